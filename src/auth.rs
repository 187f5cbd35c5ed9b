//! Who may speak the peer protocol: the cluster secret, the handshake that
//! proves it, and the MAC on every frame after it. Not in the paper, which
//! assumes every node is a friend; a node on a network cannot.
//!
//! # The handshake
//!
//! Every node of a ring is given the same secret (`--secret-file`, or the
//! `CHORD_SECRET` environment variable). A connection proves, both ways,
//! that the other end holds it, without sending it: each side sends a fresh
//! random nonce, and each answers with HMAC-SHA256 under the secret over
//! both nonces and a label naming its role.
//!
//! ```text
//! client -> server   hello:  MAGIC VERSION mode nonce_c          (22 bytes)
//! server -> client   hello:  MAGIC VERSION mode nonce_s tag_s    (54 bytes)
//! client -> server   proof:  tag_c                               (32 bytes, with a secret)
//! server -> client   ack:    1 = serving, 0 = refused, 2 = busy  (1 byte)
//!
//! tag_s = HMAC(secret, "chord server" | nonce_c | nonce_s)
//! tag_c = HMAC(secret, "chord client" | nonce_c | nonce_s)
//! ```
//!
//! The server proves itself first, but over the client's fresh nonce, so a
//! recorded answer is worth nothing; the client's proof covers the server's
//! fresh nonce likewise. A server refuses everything before a valid proof:
//! a stranger gets one hello and the connection closed. `mode` is 1 with a
//! secret and 0 without; a node with a secret and one without refuse each
//! other, each saying why.
//!
//! # Frames after it
//!
//! The handshake alone would leave the stream open to anyone who can inject
//! into a TCP connection (an attacker on the path), so each frame carries a
//! MAC too: the first 16 bytes of HMAC-SHA256 under a key derived for its
//! direction (`"chord c2s"` or `"chord s2c"` with both nonces) over the
//! frame's sequence number and bytes. A frame injected, replayed, reordered
//! or altered fails its MAC, and the connection is closed. Without a
//! secret, frames carry no MAC ([`Session::open`]).
//!
//! # What the secret does not do
//!
//! It keeps outsiders out. A member is trusted: a node that holds the
//! secret and turns hostile can still lie about the ring or the data
//! (Byzantine faults are out of scope; see docs/security.md). Frames are
//! authenticated, not encrypted: anyone on the path can read them.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

/// The first bytes of every peer connection. The first is NUL, which no one
/// types into telnet, so a server tells a peer from a person by one byte.
pub const MAGIC: [u8; 4] = [0, b'C', b'H', b'D'];

/// What a connection that opened with a NUL, but not the peer preamble,
/// is told before it is closed: most likely a person, so in words.
const NOT_A_PEER: &[u8] = b"ERR a first byte of 0 opens the peer handshake, and this is not one; \
      type HELP in the text protocol, or use a Redis client\r\n";

/// The peer protocol's version; the handshake carries it. 3 added the
/// cluster secret and frame MACs; 4 the owned count in `Info`, `Update`,
/// `Consider`, `Syncing` and `Unchanged`; 5 made values bytes, not UTF-8
/// text; 6 gave values an expiry time; 7 gave each `Update` an id, and
/// each entry the id of the update that wrote it, so that a retry is not
/// applied twice; 8 said whether a node is settled (`Neighbours`) and
/// whether a predecessor's arc came whole (`Notified`); 9 added the
/// updates `Append`, `SetRange` and `IncrementFloat`; 10 added `Flush`
/// and the flush watermark in `Digest` and `Differ`, and a node not yet in
/// a ring answers lookups `NotOwner`; 11 batched calls (`Batch`,
/// `Deferred`); 12 added `Unwritable`, a node's disk refusing a write,
/// and `syncing` in `Differ`; 13 placed keys by their Redis Cluster hash
/// slot (the messages are unchanged, but where a key lives is not); 14
/// let `Digest` buckets and `Reconcile` spans end between two keys of one
/// identifier; 15 ordered those keys by a hash of each first (the
/// messages are unchanged, but where such a point falls is not). Nodes of
/// different versions refuse each other at the handshake, saying so.
pub const VERSION: u8 = 15;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of each side's nonce.
pub const NONCE: usize = 16;

/// Bytes of a handshake tag (a whole HMAC-SHA256).
pub const TAG: usize = 32;

/// Bytes of the MAC on each frame.
pub const FRAME_TAG: usize = 16;

/// Bytes of the client's hello.
pub const CLIENT_HELLO: usize = MAGIC.len() + 2 + NONCE;

/// Bytes of the server's hello.
pub const SERVER_HELLO: usize = MAGIC.len() + 2 + NONCE + TAG;

/// The fewest bytes a secret may have.
pub const MIN_SECRET: usize = 16;

/// The ack byte: the server serves the connection.
pub const ACK_SERVING: u8 = 1;
/// The ack byte: the proof was wrong.
pub const ACK_REFUSED: u8 = 0;
/// The ack byte: no worker was free; try again.
pub const ACK_BUSY: u8 = 2;

/// The cluster secret. Its `Debug` does not show it.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A secret from its text; white space around it is dropped, so a file
    /// written with a newline works.
    ///
    /// # Errors
    /// [`Error::Config`] when fewer than [`MIN_SECRET`] bytes remain.
    pub fn new(text: &[u8]) -> Result<Secret> {
        let text = text.trim_ascii();
        if text.len() < MIN_SECRET {
            return Err(Error::Config(format!(
                "the cluster secret has {} bytes; it needs at least {MIN_SECRET} \
                 (for example: head -c 32 /dev/urandom | base64 > secret)",
                text.len()
            )));
        }
        Ok(Secret(text.to_vec()))
    }

    /// The secret in the file at `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read, else as [`Secret::new`].
    pub fn from_file(path: &Path) -> Result<Secret> {
        let text = std::fs::read(path).map_err(|source| Error::Io {
            context: format!("reading the secret file {}", path.display()),
            source,
        })?;
        Secret::new(&text)
    }

    /// What names the ring of this secret without revealing it: the
    /// HMAC-SHA256 under the secret of a fixed label. A data directory
    /// keeps it, so that one ring's directory is not loaded into another.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut mac = keyed(&self.0);
        mac.update(b"chord data directory");
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SHA256 under the secret of `label`, then the two nonces.
    fn tag(&self, label: &[u8], client: &[u8; NONCE], server: &[u8; NONCE]) -> [u8; TAG] {
        let mut mac = keyed(&self.0);
        mac.update(label);
        mac.update(client);
        mac.update(server);
        mac.finalize().into_bytes().into()
    }

    fn check(&self, label: &[u8], client: &[u8; NONCE], server: &[u8; NONCE], tag: &[u8]) -> bool {
        let mut mac = keyed(&self.0);
        mac.update(label);
        mac.update(client);
        mac.update(server);
        // Constant time, so the answer's timing tells nothing.
        mac.verify_slice(tag).is_ok()
    }
}

fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length; this never fails.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// A fresh random nonce from the operating system.
///
/// # Errors
/// The operating system's error, if it has no randomness to give.
pub fn nonce() -> io::Result<[u8; NONCE]> {
    let mut bytes = [0u8; NONCE];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(bytes)
}

/// One direction's frame key and the sequence number of its next frame.
struct FrameKey {
    /// HMAC already keyed with the frame key: each frame's MAC starts
    /// from a copy, so the two blocks that keying hashes are not hashed
    /// again for every frame (a third of a short frame's MAC).
    keyed: HmacSha256,
    next: u64,
}

impl FrameKey {
    fn new(secret: &Secret, label: &[u8], client: &[u8; NONCE], server: &[u8; NONCE]) -> Self {
        FrameKey {
            keyed: keyed(&secret.tag(label, client, server)),
            next: 0,
        }
    }

    fn mac(&self, body: &[u8]) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(&self.next.to_be_bytes());
        mac.update(&(body.len() as u64).to_be_bytes());
        mac.update(body);
        mac
    }
}

/// The state of an authenticated connection after its handshake: the MAC
/// keys for the frames each way, or none for a node without a secret.
pub struct Session {
    // Boxed: a keyed HMAC is some 170 bytes, and sessions move between
    // threads with their connections.
    send: Option<Box<FrameKey>>,
    receive: Option<Box<FrameKey>>,
}

impl Session {
    /// A session whose frames carry no MAC: a node without a secret, or the
    /// in-memory network.
    pub fn open() -> Session {
        Session {
            send: None,
            receive: None,
        }
    }

    fn keyed(secret: &Secret, client: &[u8; NONCE], server: &[u8; NONCE], is_client: bool) -> Self {
        let c2s = FrameKey::new(secret, b"chord c2s", client, server);
        let s2c = FrameKey::new(secret, b"chord s2c", client, server);
        let (send, receive) = if is_client { (c2s, s2c) } else { (s2c, c2s) };
        Session {
            send: Some(Box::new(send)),
            receive: Some(Box::new(receive)),
        }
    }

    /// How many bytes of MAC follow each frame's body.
    pub fn tag_len(&self) -> usize {
        if self.send.is_some() {
            FRAME_TAG
        } else {
            0
        }
    }

    /// The MAC of the next frame sent (empty without a secret).
    pub fn seal(&mut self, body: &[u8]) -> Vec<u8> {
        let Some(key) = &mut self.send else {
            return Vec::new();
        };
        let tag = key.mac(body).finalize().into_bytes();
        key.next += 1;
        tag[..FRAME_TAG].to_vec()
    }

    /// Whether `tag` is the MAC of the next frame received.
    pub fn verify(&mut self, body: &[u8], tag: &[u8]) -> bool {
        let Some(key) = &mut self.receive else {
            return tag.is_empty();
        };
        let ok = key.mac(body).verify_truncated_left(tag).is_ok() && tag.len() == FRAME_TAG;
        key.next += 1;
        ok
    }
}

/// Why a handshake did not produce a session.
#[derive(Debug)]
pub enum HandshakeError {
    /// The server had no free worker: try again later.
    Busy,
    /// The other end is not one of ours: another protocol or version, the
    /// other mode, or a wrong secret. The text says which.
    Refused(String),
    /// The stream failed or timed out.
    Io(io::Error),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Busy => write!(f, "busy"),
            HandshakeError::Refused(why) => write!(f, "{why}"),
            HandshakeError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for HandshakeError {
    fn from(e: io::Error) -> HandshakeError {
        HandshakeError::Io(e)
    }
}

fn mode(secret: Option<&Secret>) -> u8 {
    u8::from(secret.is_some())
}

fn mode_mismatch(ours: u8) -> String {
    if ours == 1 {
        "it runs without a cluster secret and this node has one: give every node the same --secret-file".into()
    } else {
        "it requires the cluster secret: start this node with the ring's --secret-file".into()
    }
}

/// The client's side of the handshake, on a fresh blocking stream.
///
/// # Errors
/// [`HandshakeError::Busy`] when the server had no free worker, and
/// [`HandshakeError::Refused`] when it is not a node of our ring.
pub fn client_handshake<S: Read + Write>(
    stream: &mut S,
    secret: Option<&Secret>,
) -> std::result::Result<Session, HandshakeError> {
    let ours = nonce()?;
    let mut hello = Vec::with_capacity(CLIENT_HELLO);
    hello.extend_from_slice(&MAGIC);
    hello.extend_from_slice(&[VERSION, mode(secret)]);
    hello.extend_from_slice(&ours);
    stream.write_all(&hello)?;
    let mut answer = [0u8; SERVER_HELLO];
    stream.read_exact(&mut answer[..5])?;
    if answer.starts_with(b"ERR b") {
        return Err(HandshakeError::Busy);
    }
    if answer[..4] != MAGIC {
        return Err(HandshakeError::Refused(
            "it did not answer the peer preamble".into(),
        ));
    }
    if answer[4] != VERSION {
        return Err(HandshakeError::Refused(format!(
            "it speaks peer protocol version {}, we speak {VERSION}",
            answer[4]
        )));
    }
    stream.read_exact(&mut answer[5..])?;
    if answer[5] != mode(secret) {
        return Err(HandshakeError::Refused(mode_mismatch(mode(secret))));
    }
    let mut theirs = [0u8; NONCE];
    theirs.copy_from_slice(&answer[6..6 + NONCE]);
    let session = match secret {
        None => Session::open(),
        Some(secret) => {
            if !secret.check(b"chord server", &ours, &theirs, &answer[6 + NONCE..]) {
                return Err(HandshakeError::Refused(
                    "it does not know our cluster secret".into(),
                ));
            }
            stream.write_all(&secret.tag(b"chord client", &ours, &theirs))?;
            Session::keyed(secret, &ours, &theirs, true)
        }
    };
    let mut ack = [0u8; 1];
    stream.read_exact(&mut ack)?;
    match ack[0] {
        ACK_SERVING => Ok(session),
        ACK_BUSY => Err(HandshakeError::Busy),
        _ => Err(HandshakeError::Refused(
            "it refused our proof of the cluster secret".into(),
        )),
    }
}

/// The server's side of the handshake, fed bytes as they arrive, so one
/// thread can hold many connections in it (see `crate::server`).
pub struct ServerHandshake {
    secret: Option<Secret>,
    ours: [u8; NONCE],
    theirs: [u8; NONCE],
    received: Vec<u8>,
    /// Whether the hello is done and the proof is awaited.
    awaiting_proof: bool,
}

/// What one step of a [`ServerHandshake`] decided.
pub enum Step {
    /// Send these bytes (maybe none), then wait for more.
    Reply(Vec<u8>),
    /// Send these bytes, then hand the connection to a worker, which sends
    /// the ack and serves frames with the `Session` given.
    Ready(Vec<u8>, Session),
    /// Send these bytes, then close: the text says why, for the log.
    Refuse(Vec<u8>, String),
}

impl ServerHandshake {
    /// A handshake answered with `secret` (or none) and our fresh nonce.
    pub fn new(secret: Option<Secret>, ours: [u8; NONCE]) -> ServerHandshake {
        ServerHandshake {
            secret,
            ours,
            theirs: [0; NONCE],
            received: Vec::with_capacity(TAG),
            awaiting_proof: false,
        }
    }

    /// How many more bytes the current message needs. Read no more than
    /// this: what follows belongs to the next step.
    pub fn wants(&self) -> usize {
        let size = if self.awaiting_proof {
            TAG
        } else {
            CLIENT_HELLO
        };
        size - self.received.len()
    }

    /// Takes `bytes`, at most [`ServerHandshake::wants`] of them, and says
    /// what to do next.
    pub fn receive(&mut self, bytes: &[u8]) -> Step {
        let take = bytes.len().min(self.wants());
        self.received.extend_from_slice(&bytes[..take]);
        // A person who typed a NUL is told at the first byte that cannot
        // be the preamble, not left waiting for the deadline.
        let start = self.received.len().min(MAGIC.len());
        if !self.awaiting_proof && self.received[..start] != MAGIC[..start] {
            return Step::Refuse(NOT_A_PEER.to_vec(), "not the peer preamble".into());
        }
        if self.wants() > 0 {
            return Step::Reply(Vec::new());
        }
        let message = std::mem::take(&mut self.received);
        if self.awaiting_proof {
            return self.proof(&message);
        }
        self.hello(&message)
    }

    fn hello(&mut self, hello: &[u8]) -> Step {
        self.theirs.copy_from_slice(&hello[6..]);
        let ours = mode(self.secret.as_ref());
        let mut reply = Vec::with_capacity(SERVER_HELLO);
        reply.extend_from_slice(&MAGIC);
        reply.extend_from_slice(&[VERSION, ours]);
        reply.extend_from_slice(&self.ours);
        match &self.secret {
            Some(secret) => {
                reply.extend_from_slice(&secret.tag(b"chord server", &self.theirs, &self.ours))
            }
            None => reply.extend_from_slice(&[0; TAG]),
        }
        if hello[4] != VERSION {
            let why = format!("peer protocol version {}, not {VERSION}", hello[4]);
            return Step::Refuse(reply, why);
        }
        if hello[5] != ours {
            return Step::Refuse(reply, mode_mismatch(ours));
        }
        if self.secret.is_none() {
            return Step::Ready(reply, Session::open());
        }
        self.awaiting_proof = true;
        Step::Reply(reply)
    }

    fn proof(&self, tag: &[u8]) -> Step {
        let Some(secret) = &self.secret else {
            return Step::Refuse(Vec::new(), "a proof without a secret".into());
        };
        if secret.check(b"chord client", &self.theirs, &self.ours, tag) {
            Step::Ready(
                Vec::new(),
                Session::keyed(secret, &self.theirs, &self.ours, false),
            )
        } else {
            Step::Refuse(vec![ACK_REFUSED], "a wrong cluster secret".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    fn secret(text: &str) -> Secret {
        Secret::new(text.as_bytes()).unwrap()
    }

    /// A client stream whose server runs the state machine in the same
    /// thread: what the client writes is fed to it, and its replies are
    /// what the client reads.
    struct Loop {
        server: ServerHandshake,
        to_client: VecDeque<u8>,
        outcome: Option<std::result::Result<Session, String>>,
    }

    impl Write for Loop {
        fn write(&mut self, mut bytes: &[u8]) -> io::Result<usize> {
            let n = bytes.len();
            while !bytes.is_empty() && self.outcome.is_none() {
                let take = bytes.len().min(self.server.wants());
                let step = self.server.receive(&bytes[..take]);
                bytes = &bytes[take..];
                match step {
                    Step::Reply(reply) => self.to_client.extend(reply),
                    Step::Ready(reply, session) => {
                        self.to_client.extend(reply);
                        self.to_client.push_back(ACK_SERVING);
                        self.outcome = Some(Ok(session));
                    }
                    Step::Refuse(reply, why) => {
                        self.to_client.extend(reply);
                        self.outcome = Some(Err(why));
                    }
                }
            }
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Read for Loop {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.to_client.len());
            for (slot, byte) in buf.iter_mut().zip(self.to_client.drain(..n)) {
                *slot = byte;
            }
            Ok(n)
        }
    }

    fn run(
        client: Option<&Secret>,
        server: Option<Secret>,
    ) -> (
        std::result::Result<Session, HandshakeError>,
        Option<std::result::Result<Session, String>>,
    ) {
        let mut pipe = Loop {
            server: ServerHandshake::new(server, nonce().unwrap()),
            to_client: VecDeque::new(),
            outcome: None,
        };
        let result = client_handshake(&mut pipe, client);
        (result, pipe.outcome)
    }

    #[test]
    fn the_same_secret_opens_a_session_whose_frames_check() {
        let s = secret("a cluster secret of some length");
        let (client, server) = run(Some(&s), Some(s.clone()));
        let (mut client, mut server) = (client.unwrap(), server.unwrap().unwrap());
        for body in [&b"first"[..], b"second", b""] {
            let tag = client.seal(body);
            assert_eq!(tag.len(), FRAME_TAG);
            assert!(server.verify(body, &tag));
        }
        let tag = server.seal(b"answer");
        assert!(client.verify(b"answer", &tag));
        // A replayed frame (an old sequence number) or an altered one fails.
        let old = client.seal(b"frame");
        assert!(server.verify(b"frame", &old));
        assert!(!server.verify(b"frame", &old), "replay");
        let tag = client.seal(b"frame");
        assert!(!server.verify(b"framE", &tag), "altered");
    }

    #[test]
    fn a_wrong_secret_is_refused_both_ways() {
        let ours = secret("the ring's secret, long enough");
        let theirs = secret("another secret, also long enough");
        let (client, server) = run(Some(&theirs), Some(ours));
        assert!(matches!(client, Err(HandshakeError::Refused(_))));
        // The client saw the server's tag fail first and never sent a proof.
        assert!(server.is_none());
    }

    #[test]
    fn a_stranger_without_the_secret_gets_no_session() {
        let (client, server) = run(None, Some(secret("the ring's secret, long enough")));
        let Err(HandshakeError::Refused(why)) = client else {
            panic!("an open client got in");
        };
        assert!(why.contains("requires the cluster secret"), "{why}");
        assert!(matches!(server, Some(Err(_))));
    }

    #[test]
    fn a_forged_proof_is_refused_with_ack_zero() {
        let s = secret("the ring's secret, long enough");
        let mut server = ServerHandshake::new(Some(s), nonce().unwrap());
        let mut hello = MAGIC.to_vec();
        hello.extend_from_slice(&[VERSION, 1]);
        hello.extend_from_slice(&[7; NONCE]);
        assert!(matches!(server.receive(&hello), Step::Reply(r) if r.len() == SERVER_HELLO));
        match server.receive(&[0; TAG]) {
            Step::Refuse(reply, _) => assert_eq!(reply, vec![ACK_REFUSED]),
            _ => panic!("a zero proof was accepted"),
        }
    }

    #[test]
    fn open_nodes_meet_without_macs() {
        let (client, server) = run(None, None);
        let mut client = client.unwrap();
        let mut server = server.unwrap().unwrap();
        assert_eq!(client.tag_len(), 0);
        let tag = client.seal(b"x");
        assert!(tag.is_empty() && server.verify(b"x", &tag));
    }

    #[test]
    fn short_secrets_are_refused_and_never_printed() {
        assert!(Secret::new(b"  short \n").is_err());
        let s = secret("  a secret with a newline after it\n");
        assert_eq!(s.0, b"a secret with a newline after it");
        assert_eq!(format!("{s:?}"), "Secret(..)");
    }
}
