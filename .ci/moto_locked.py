"""moto_server with S3 object writes serialised, so conditional puts
(If-None-Match: * / If-Match) are atomic check-and-write, and with a missing
multipart upload answered as S3 does (404 NoSuchUpload; stock moto answers
UploadPart and CompleteMultipartUpload of an aborted or completed upload
with a 500, which clients retry).
Usage: python moto_locked.py -H 127.0.0.1 -p PORT"""
import functools, sys, threading
from moto.s3.exceptions import NoSuchUpload
from moto.s3.models import MultipartDict
from moto.s3.responses import S3Response
from moto.server import main

_write_lock = threading.RLock()

def _locked(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _write_lock:
            return fn(*args, **kwargs)
    return wrapper

for _name in ("put_object", "copy_object", "delete_object", "_key_response_post"):
    setattr(S3Response, _name, _locked(getattr(S3Response, _name)))

def _no_such_upload(self, upload_id):
    raise NoSuchUpload(upload_id=upload_id)

MultipartDict.__missing__ = _no_such_upload

if __name__ == "__main__":
    main(sys.argv[1:])
