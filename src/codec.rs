//! Frames of the peer protocol on a byte stream. Bytes only: no sockets
//! are opened here and nothing is interpreted.
//!
//! A peer connection opens with a handshake ([`crate::auth`]) that starts
//! with the four magic bytes [`MAGIC`] and one byte of protocol
//! [`VERSION`]. The first magic byte is NUL, which no one types into
//! telnet, so a server can tell a peer from a person by one byte. After the
//! handshake each message is a frame: a 4-byte big-endian length, that many
//! bytes of postcard, and the frame's MAC when the ring has a secret
//! ([`Session`]). A frame longer than [`MAX_FRAME`] is refused before any
//! of it is read, and a frame's buffer grows only as its bytes arrive, so a
//! peer that announces a large frame and sends it slowly (or never) costs
//! no more memory than it has sent.

use std::fmt;
use std::io::{self, BufRead, Read, Write};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::auth::Session;
use crate::store::{MAX_KEY, MAX_VALUE};

pub use crate::auth::{MAGIC, VERSION};

/// The largest frame accepted: one message with the longest key and value
/// a node can be set to take, and room for the rest. Key hand-over is
/// chunked well below this ([`crate::dhash`]), so only a message that
/// carries one big value comes near it; and a frame's buffer grows only as
/// its bytes arrive.
pub const MAX_FRAME: usize = MAX_KEY + MAX_VALUE + 1024 * 1024;

/// How much of an announced frame's buffer is allocated before its bytes
/// arrive; the rest grows as they do.
const FIRST_ALLOCATION: usize = 64 * 1024;

/// What can go wrong reading or writing a frame.
#[derive(Debug)]
pub enum CodecError {
    /// The stream ended cleanly between frames.
    Closed,
    /// The stream ended inside a frame.
    Truncated,
    /// The length prefix announced more than the limit.
    TooLarge {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes were not a valid message.
    Malformed(postcard::Error),
    /// The frame's MAC was wrong: injected, replayed, reordered or altered.
    BadMac,
    /// The stream failed (including a read or write timeout).
    Io(io::Error),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Closed => write!(f, "connection closed"),
            CodecError::Truncated => write!(f, "connection closed in the middle of a frame"),
            CodecError::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes is over the limit of {max}")
            }
            CodecError::Malformed(e) => write!(f, "malformed frame: {e}"),
            CodecError::BadMac => write!(f, "a frame failed its MAC"),
            CodecError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CodecError::Malformed(e) => Some(e),
            CodecError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// The buffer a frame is first encoded into: room for a lookup step, a
/// key and a short value, and the MAC.
const FIRST_CAPACITY: usize = 512;

/// The largest buffer a connection keeps between frames
/// ([`Frames::write`]); one grown past it by a big value is let go.
const KEPT_CAPACITY: usize = 64 * 1024;

/// A message as one frame: length prefix, postcard bytes, and the MAC
/// `session` puts on it.
///
/// # Errors
/// [`CodecError::TooLarge`] when the message encodes to more than
/// [`MAX_FRAME`] bytes.
pub fn encode<T: Serialize>(message: &T, session: &mut Session) -> Result<Vec<u8>, CodecError> {
    let mut frame = Vec::with_capacity(FIRST_CAPACITY);
    encode_into(message, session, &mut frame)?;
    Ok(frame)
}

/// [`encode`], into `frame` (emptied first).
fn encode_into<T: Serialize>(
    message: &T,
    session: &mut Session,
    frame: &mut Vec<u8>,
) -> Result<(), CodecError> {
    // Encoded in place after room for the length: a body grown and then
    // copied behind its length would cost a second buffer.
    frame.clear();
    frame.extend_from_slice(&[0; 4]);
    *frame = postcard::to_extend(message, std::mem::take(frame)).map_err(CodecError::Malformed)?;
    let len = frame.len() - 4;
    if len > MAX_FRAME {
        return Err(CodecError::TooLarge {
            len,
            max: MAX_FRAME,
        });
    }
    frame[..4].copy_from_slice(&(len as u32).to_be_bytes());
    let tag = session.seal(&frame[4..]);
    frame.extend_from_slice(&tag);
    Ok(())
}

/// Writes frames to one connection, encoding each into a buffer kept from
/// the last, so that a frame costs no allocation of its own.
#[derive(Debug, Default)]
pub struct Frames {
    buffer: Vec<u8>,
}

impl Frames {
    /// Writes `message` as one frame.
    ///
    /// # Errors
    /// As [`encode`], or the stream's error.
    pub fn write<W: Write, T: Serialize>(
        &mut self,
        writer: &mut W,
        message: &T,
        session: &mut Session,
    ) -> Result<(), CodecError> {
        self.buffer.reserve(FIRST_CAPACITY);
        let written = encode_into(message, session, &mut self.buffer)
            .and_then(|()| writer.write_all(&self.buffer).map_err(CodecError::Io));
        if self.buffer.capacity() > KEPT_CAPACITY {
            self.buffer = Vec::new();
        }
        written
    }
}

/// Writes `message` as one frame, and flushes the writer.
///
/// # Errors
/// As [`encode`], or the stream's error.
pub fn write_frame<W: Write, T: Serialize>(
    writer: &mut W,
    message: &T,
    session: &mut Session,
) -> Result<(), CodecError> {
    let frame = encode(message, session)?;
    writer.write_all(&frame).map_err(CodecError::Io)?;
    writer.flush().map_err(CodecError::Io)
}

/// Reads one frame, checks its MAC, and decodes it.
///
/// # Errors
/// [`CodecError::Closed`] at a clean end of stream, [`CodecError::Truncated`]
/// inside a frame, [`CodecError::TooLarge`] for a length over [`MAX_FRAME`]
/// (nothing past the prefix is read), [`CodecError::BadMac`] for a frame
/// that fails its MAC, [`CodecError::Malformed`] for bytes that are not a
/// `T`.
pub fn read_frame<R: BufRead, T: DeserializeOwned>(
    reader: &mut R,
    session: &mut Session,
) -> Result<T, CodecError> {
    let mut prefix = [0u8; 4];
    match read_exact_or_eof(reader, &mut prefix)? {
        0 => return Err(CodecError::Closed),
        4 => {}
        _ => return Err(CodecError::Truncated),
    }
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME {
        return Err(CodecError::TooLarge {
            len,
            max: MAX_FRAME,
        });
    }
    let wanted = len + session.tag_len();
    // Most frames are in the reader's buffer whole by now: they are checked
    // and decoded there, with no copy and no buffer of their own.
    if wanted > 0 {
        let buffered = reader.fill_buf().map_err(CodecError::Io)?;
        if let Some(frame) = buffered.get(..wanted) {
            let (body, tag) = frame.split_at(len);
            let message = if session.verify(body, tag) {
                decode(body)
            } else {
                Err(CodecError::BadMac)
            };
            reader.consume(wanted);
            return message;
        }
    }
    let mut frame = Vec::with_capacity(wanted.min(FIRST_ALLOCATION));
    let read = reader
        .take(wanted as u64)
        .read_to_end(&mut frame)
        .map_err(CodecError::Io)?;
    if read != wanted {
        return Err(CodecError::Truncated);
    }
    let (body, tag) = frame.split_at(len);
    if !session.verify(body, tag) {
        return Err(CodecError::BadMac);
    }
    decode(body)
}

/// Decodes a frame's body (the bytes after the length prefix).
///
/// # Errors
/// [`CodecError::Malformed`] when the bytes are not a `T`.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    postcard::from_bytes(body).map_err(CodecError::Malformed)
}

/// Fills `buf` unless the stream ends first; returns how many bytes came.
fn read_exact_or_eof<R: Read>(reader: &mut R, buf: &mut [u8]) -> Result<usize, CodecError> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(CodecError::Io(e)),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::IdSpace;
    use crate::message::{Request, Response};
    use crate::store::{Entry, Version};

    fn sample() -> Request {
        Request::FindSuccessor {
            id: IdSpace::new(160).unwrap().hash(b"key"),
        }
    }

    fn open() -> Session {
        Session::open()
    }

    #[test]
    fn a_frame_round_trips() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &sample(), &mut open()).unwrap();
        let entry = Entry {
            value: Some("v".into()),
            version: Version {
                stamp: 7,
                writer: 1,
            },
            expires: None,
            update: None,
        };
        write_frame(
            &mut wire,
            &Response::Value(Some(entry.clone())),
            &mut open(),
        )
        .unwrap();
        let mut reader = &wire[..];
        assert_eq!(
            read_frame::<_, Request>(&mut reader, &mut open()).unwrap(),
            sample()
        );
        let response: Response = read_frame(&mut reader, &mut open()).unwrap();
        assert_eq!(response, Response::Value(Some(entry)));
        assert!(matches!(
            read_frame::<_, Request>(&mut reader, &mut open()),
            Err(CodecError::Closed)
        ));
    }

    #[test]
    fn a_truncated_frame_is_reported_as_such() {
        let wire = encode(&sample(), &mut open()).unwrap();
        for cut in 1..wire.len() {
            let mut reader = &wire[..cut];
            let result = read_frame::<_, Request>(&mut reader, &mut open());
            assert!(matches!(result, Err(CodecError::Truncated)), "cut at {cut}");
        }
    }

    #[test]
    fn an_oversized_length_is_refused_before_reading_the_body() {
        let mut wire = ((MAX_FRAME + 1) as u32).to_be_bytes().to_vec();
        wire.extend_from_slice(&[0u8; 16]);
        let mut reader = &wire[..];
        let result = read_frame::<_, Request>(&mut reader, &mut open());
        assert!(matches!(result, Err(CodecError::TooLarge { .. })));
        // Only the prefix was consumed.
        assert_eq!(reader.len(), 16);
    }

    #[test]
    fn an_oversized_message_is_refused_when_encoding() {
        let huge = Request::Write {
            key: "k".into(),
            value: Some(vec![b'x'; MAX_FRAME + 1]),
            expires: None,
        };
        assert!(matches!(
            encode(&huge, &mut open()),
            Err(CodecError::TooLarge { .. })
        ));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let mut wire = 3u32.to_be_bytes().to_vec();
        wire.extend_from_slice(&[0xff, 0xff, 0xff]);
        let mut reader = &wire[..];
        let result = read_frame::<_, Request>(&mut reader, &mut open());
        assert!(matches!(result, Err(CodecError::Malformed(_))));
    }

    /// Hands out its bytes a few at a time, as a slow peer sends them.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.0.len()).min(7);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// A [`Trickle`] behind a buffer smaller than any frame.
    fn trickle(bytes: &[u8]) -> io::BufReader<Trickle<'_>> {
        io::BufReader::with_capacity(7, Trickle(bytes))
    }

    #[test]
    fn frames_in_the_buffer_are_read_in_place_one_after_another() {
        let first = Request::Get { key: b"a".to_vec() };
        let second = Request::Get { key: b"b".to_vec() };
        let (mut sender, mut receiver) = (open(), open());
        let mut wire = encode(&first, &mut sender).unwrap();
        wire.extend(encode(&second, &mut sender).unwrap());
        let mut reader = &wire[..];
        let read: Request = read_frame(&mut reader, &mut receiver).unwrap();
        assert_eq!(read, first);
        let read: Request = read_frame(&mut reader, &mut receiver).unwrap();
        assert_eq!(read, second);
        assert!(reader.is_empty());
    }

    #[test]
    fn a_frame_larger_than_the_first_allocation_arrives_whole_in_pieces() {
        let big = Request::Write {
            key: "k".into(),
            value: Some(vec![b'x'; 3 * FIRST_ALLOCATION]),
            expires: None,
        };
        let wire = encode(&big, &mut open()).unwrap();
        let read: Request = read_frame(&mut trickle(&wire), &mut open()).unwrap();
        assert_eq!(read, big);
        // Announced but never sent: truncated, after reading what came.
        let mut short = (MAX_FRAME as u32).to_be_bytes().to_vec();
        short.extend_from_slice(&[0u8; 10]);
        let result = read_frame::<_, Request>(&mut trickle(&short), &mut open());
        assert!(matches!(result, Err(CodecError::Truncated)));
    }

    #[test]
    fn the_preamble_starts_with_a_byte_nobody_types() {
        assert_eq!(MAGIC[0], 0);
        assert_eq!(&MAGIC[1..4], b"CHD");
    }
}
