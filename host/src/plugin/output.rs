//! What a WASI guest writes to stdout and stderr during one call, kept up to the plugin's
//! `output-bytes` limit and shown with the call's failure.
//!
//! Why a stream of our own rather than wasmtime-wasi's `MemoryOutputPipe`: that pipe
//! fails the write (a trap) once its capacity is reached, so a chatty guest would fail
//! its task for printing. Here every write succeeds: the first half of the budget keeps
//! the start of the output, the second half its most recent bytes (a traceback is at the
//! end), and what falls between is counted and dropped. A print never changes an outcome.

use bytes::Bytes;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// How much one `check-write` permits; a guest's print is split into writes of this size.
const PERMIT: usize = 64 * 1024;

/// The captured output of one call, shared by its stdout and stderr streams.
#[derive(Clone)]
pub(crate) struct Captured {
    inner: Arc<Mutex<Buffer>>,
}

struct Buffer {
    head_budget: usize,
    tail_budget: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    /// Bytes that fell out between head and tail.
    dropped: u64,
}

impl Captured {
    pub fn new(budget_bytes: u64) -> Self {
        let budget = usize::try_from(budget_bytes).unwrap_or(usize::MAX);
        let head_budget = budget / 2;
        let buffer = Buffer {
            head_budget,
            tail_budget: budget - head_budget,
            head: Vec::new(),
            tail: VecDeque::new(),
            dropped: 0,
        };
        Captured { inner: Arc::new(Mutex::new(buffer)) }
    }

    fn push(&self, mut bytes: &[u8]) {
        let mut b = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let room = b.head_budget - b.head.len();
        if room > 0 {
            let n = room.min(bytes.len());
            b.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        if bytes.len() > b.tail_budget {
            let skip = bytes.len() - b.tail_budget;
            b.dropped += (skip + b.tail.len()) as u64;
            b.tail.clear();
            bytes = &bytes[skip..];
        }
        let overflow = (b.tail.len() + bytes.len()).saturating_sub(b.tail_budget);
        b.tail.drain(..overflow);
        b.dropped += overflow as u64;
        b.tail.extend(bytes);
    }

    /// The output as text (invalid UTF-8 replaced), with a line saying how many bytes
    /// were dropped from its middle; `None` when the guest wrote nothing but whitespace.
    /// Not yet escaped for a terminal: callers pass it through [`crate::text::block`].
    pub fn text(&self) -> Option<String> {
        let b = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::from_utf8_lossy(&b.head).into_owned();
        if b.dropped > 0 {
            text.push_str(&format!("\n... ({} bytes dropped: over the output-bytes limit) ...\n", b.dropped));
        }
        let (a, c) = b.tail.as_slices();
        text.push_str(&String::from_utf8_lossy(&[a, c].concat()));
        let trimmed = text.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_string())
    }
}

impl IsTerminal for Captured {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Captured {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

impl OutputStream for Captured {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Captured {
    /// Always ready: writes never wait.
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Captured {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::Captured;

    #[test]
    fn keeps_the_start_and_the_end_and_counts_the_middle() {
        let out = Captured::new(8);
        out.push(b"abcd");
        out.push(b"0123456789");
        out.push(b"wx");
        assert_eq!(out.text().unwrap(), "abcd\n... (8 bytes dropped: over the output-bytes limit) ...\n89wx");
    }

    #[test]
    fn small_output_is_kept_whole() {
        let out = Captured::new(64);
        out.push(b"hello\n");
        out.push(b"world\n");
        assert_eq!(out.text().unwrap(), "hello\nworld");
        assert_eq!(Captured::new(64).text(), None);
    }
}
