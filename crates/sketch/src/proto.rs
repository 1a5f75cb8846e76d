//! A minimal protobuf wire-format reader and writer (the subset the
//! DDSketch message uses), treating input as hostile.

use crate::Result;
use crate::error::corrupt;

pub(crate) const WT_VARINT: u8 = 0;
pub(crate) const WT_I64: u8 = 1;
pub(crate) const WT_LEN: u8 = 2;
pub(crate) const WT_I32: u8 = 5;

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_tag(out: &mut Vec<u8>, field: u32, wt: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wt));
}

pub(crate) fn put_double(out: &mut Vec<u8>, field: u32, v: f64) {
    put_tag(out, field, WT_I64);
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_sint32(out: &mut Vec<u8>, field: u32, v: i32) {
    put_tag(out, field, WT_VARINT);
    put_varint(out, u64::from(((v << 1) ^ (v >> 31)) as u32));
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_tag(out, field, WT_LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

pub(crate) fn zigzag32(v: u64) -> i32 {
    let v = v as u32;
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

/// One decoded field.
pub(crate) enum Field<'a> {
    Varint(u64),
    I64(u64),
    Len(&'a [u8]),
    I32,
}

pub(crate) struct Decoder<'a> {
    what: &'static str,
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(what: &'static str, buf: &'a [u8]) -> Self {
        Decoder { what, buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(corrupt(self.what, "truncated varint"));
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(corrupt(self.what, "varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt(self.what, "varint too long"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return Err(corrupt(self.what, "truncated field"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// The next `(field number, value)`, or `None` at the end.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Field<'a>)>> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let field =
            u32::try_from(tag >> 3).map_err(|_| corrupt(self.what, "field number too large"))?;
        if field == 0 {
            return Err(corrupt(self.what, "field number 0"));
        }
        let value = match (tag & 7) as u8 {
            WT_VARINT => Field::Varint(self.varint()?),
            WT_I64 => {
                let b = self.take(8)?;
                Field::I64(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            }
            WT_LEN => {
                let n = usize::try_from(self.varint()?)
                    .map_err(|_| corrupt(self.what, "length overflows"))?;
                Field::Len(self.take(n)?)
            }
            WT_I32 => {
                self.take(4)?;
                Field::I32
            }
            wt => return Err(corrupt(self.what, format!("unsupported wire type {wt}"))),
        };
        Ok(Some((field, value)))
    }
}
