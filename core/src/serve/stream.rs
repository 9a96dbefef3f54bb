//! Converted bodies of a chosen size, produced as they are read: a 200 MB answer costs the
//! server one chunk of memory, not 200 MB.

use super::{hex, sha256};
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::convert::Infallible;
use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

/// How much a streamed answer hands to hyper at a time.
const CHUNK: usize = 256 * 1024;

/// The filler's period: a prime, so a chunk lost or repeated anywhere (chunks are powers of two)
/// shifts the pattern and shows in a byte-for-byte comparison.
const PERIOD: usize = 65_521;

/// The bytes of a converted body of exactly `size` bytes, as a [`Read`]: the head line
/// `http-triage converted target=TARGET sha256=HEX bytes=LEN\n`, the input, then filler (a
/// 65,521-byte splitmix64 pattern keyed by the input's sha256, repeated), cut at `size`.
/// Deterministic in the input, the target and the size, so a test can check an output byte
/// for byte without holding it; cheap to produce (copies, no per-byte work).
/// What [`ServeConfig::output_bytes`](super::ServeConfig::output_bytes) makes the server send.
#[derive(Clone, Debug)]
pub struct ConvertedReader {
    prefix: Bytes,
    pattern: Bytes,
    size: u64,
    pos: u64,
}

impl ConvertedReader {
    /// The converted body of `input` for `target`, `size` bytes long.
    pub fn new(input: &[u8], target: &str, size: u64) -> Self {
        Self::with_digest(Bytes::copy_from_slice(input), &sha256(input), target, size)
    }

    pub(crate) fn with_digest(input: Bytes, digest: &[u8; 32], target: &str, size: u64) -> Self {
        let head = format!(
            "http-triage converted target={target} sha256={} bytes={}\n",
            hex(digest),
            input.len()
        );
        let mut prefix = Vec::with_capacity(head.len() + input.len());
        prefix.extend_from_slice(head.as_bytes());
        prefix.extend_from_slice(&input);
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&digest[..8]);
        let mut state = u64::from_le_bytes(seed);
        let mut pattern = Vec::with_capacity(PERIOD + 8);
        while pattern.len() < PERIOD {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            pattern.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        pattern.truncate(PERIOD);
        ConvertedReader {
            prefix: Bytes::from(prefix),
            pattern: Bytes::from(pattern),
            size,
            pos: 0,
        }
    }

    /// The total length (`size`).
    pub fn len(&self) -> u64 {
        self.size
    }

    /// True when `size` is 0.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> u64 {
        self.size - self.pos
    }
}

impl Read for ConvertedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = usize::try_from(self.remaining())
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let mut n = 0;
        let plen = self.prefix.len() as u64;
        while n < want {
            let (src, from) = if self.pos < plen {
                (&self.prefix, self.pos as usize)
            } else {
                (&self.pattern, ((self.pos - plen) % PERIOD as u64) as usize)
            };
            let take = (src.len() - from).min(want - n);
            buf[n..n + take].copy_from_slice(&src[from..from + take]);
            n += take;
            self.pos += take as u64;
        }
        Ok(n)
    }
}

/// An answer's body: whole in memory, or a [`ConvertedReader`] read out in chunks.
pub(crate) enum AnswerBody {
    Full(Option<Bytes>),
    Stream(ConvertedReader),
}

impl Body for AnswerBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            AnswerBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            AnswerBody::Stream(r) => {
                let n = usize::try_from(r.remaining()).unwrap_or(CHUNK).min(CHUNK);
                if n == 0 {
                    return Poll::Ready(None);
                }
                let mut chunk = vec![0u8; n];
                // Reading from memory never fails.
                let got = r.read(&mut chunk).unwrap_or(0);
                chunk.truncate(got);
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            AnswerBody::Full(b) => b.as_ref().map_or(true, Bytes::is_empty),
            AnswerBody::Stream(r) => r.remaining() == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            AnswerBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            AnswerBody::Stream(r) => SizeHint::with_exact(r.remaining()),
        }
    }
}

impl AnswerBody {
    pub(crate) fn full(bytes: Vec<u8>) -> Self {
        AnswerBody::Full(Some(Bytes::from(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn reader_is_deterministic_and_exact() {
        let mut a = ConvertedReader::new(b"hello", "pdf", 100_003);
        let mut all = Vec::new();
        a.read_to_end(&mut all).unwrap_or(0);
        assert_eq!(all.len(), 100_003);
        assert!(all.starts_with(b"http-triage converted target=pdf sha256="));
        // Odd-sized reads give the same bytes.
        let mut b = ConvertedReader::new(b"hello", "pdf", 100_003);
        let mut again = Vec::new();
        let mut buf = [0u8; 13];
        loop {
            let n = b.read(&mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            again.extend_from_slice(&buf[..n]);
        }
        assert_eq!(all, again);
        let mut c = ConvertedReader::new(b"hellp", "pdf", 100_003);
        let mut other = Vec::new();
        c.read_to_end(&mut other).unwrap_or(0);
        assert_ne!(all[200..], other[200..]);
        // Short sizes cut the head line.
        let mut d = ConvertedReader::new(b"hello", "pdf", 4);
        let mut short = Vec::new();
        d.read_to_end(&mut short).unwrap_or(0);
        assert_eq!(short, b"http");
    }

    #[tokio::test]
    async fn body_streams_every_byte() {
        let body = AnswerBody::Stream(ConvertedReader::new(b"x", "pdf", 3 * CHUNK as u64 + 5));
        assert_eq!(body.size_hint().exact(), Some(3 * CHUNK as u64 + 5));
        let bytes = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let mut want = Vec::new();
        ConvertedReader::new(b"x", "pdf", 3 * CHUNK as u64 + 5)
            .read_to_end(&mut want)
            .unwrap_or(0);
        assert_eq!(bytes.as_ref(), want.as_slice());
    }
}
