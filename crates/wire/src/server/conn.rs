//! One accepted connection as the gRPC server sees it: the stream, the HTTP/2 preface
//! already read from it (a TLS stream cannot be peeked, so the bytes are replayed), and
//! the slot it holds in its client address's share of connections, freed when the
//! connection is dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::Connected;

/// The first bytes of every HTTP/2 connection.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Open connections per client address.
#[derive(Clone, Default)]
pub struct Slots {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Slots {
    /// Takes a slot for `ip`, or `None` when it already holds `limit`.
    pub fn take(&self, ip: IpAddr, limit: usize) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(ip).or_default();
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(Slot { slots: self.clone(), ip })
    }

    #[cfg(test)]
    fn held(&self, ip: IpAddr) -> usize {
        self.open.lock().map(|o| o.get(&ip).copied().unwrap_or(0)).unwrap_or(0)
    }
}

/// A connection's slot; given back when dropped.
pub struct Slot {
    slots: Slots,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// A connection: `prefix` (bytes already read) is served before the stream's own.
pub struct Conn<S> {
    inner: S,
    prefix: Vec<u8>,
    at: usize,
    _slot: Slot,
}

impl<S> Conn<S> {
    pub fn new(inner: S, prefix: Vec<u8>, slot: Slot) -> Conn<S> {
        Conn { inner, prefix, at: 0, _slot: slot }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Conn<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.at < self.prefix.len() {
            let left = &self.prefix[self.at..];
            let n = left.len().min(buf.remaining());
            buf.put_slice(&left[..n]);
            self.at += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Conn<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl<S: Connected> Connected for Conn<S> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_address_and_given_back() {
        let slots = Slots::default();
        let ip: IpAddr = [127, 0, 0, 1].into();
        let first = slots.take(ip, 2).expect("a slot");
        let second = slots.take(ip, 2).expect("a slot");
        assert!(slots.take(ip, 2).is_none(), "the third is over the limit");
        assert!(slots.take([10, 0, 0, 1].into(), 2).is_some(), "another address has its own");
        drop(first);
        assert_eq!(slots.held(ip), 1);
        drop(second);
        assert_eq!(slots.held(ip), 0);
    }
}
