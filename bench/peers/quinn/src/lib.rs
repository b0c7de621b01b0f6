//! mmsg-perf's quinn-udp peer: quinn-udp 0.3's `UdpSocketState::send` and `recv` on a
//! socket owned by the C++ caller, behind the C ABI declared in `mmsg_quinn_peer.h`.
//! Everything is allocated once per sender or receiver; a call allocates nothing.

use std::io::{self, IoSliceMut};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::unix::io::{AsRawFd, RawFd};

use libc::{c_int, size_t, sockaddr, socklen_t};
use quinn_proto::Transmit;
use quinn_udp::{RecvMeta, UdpSockRef, UdpSocketState, UdpState, BATCH_SIZE};

/// A socket descriptor the caller owns: quinn-udp borrows it through `UdpSockRef`.
struct Fd(RawFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

#[repr(C)]
pub struct MmsgQuinnMoved {
    datagrams: size_t,
    calls: size_t,
    error: c_int,
}

fn errno_of(e: &io::Error) -> c_int {
    e.raw_os_error().unwrap_or(libc::EIO)
}

#[no_mangle]
pub extern "C" fn mmsg_quinn_batch_size() -> size_t {
    BATCH_SIZE
}

// ---- send ------------------------------------------------------------------------------

pub struct MmsgQuinnSender {
    fd: Fd,
    socket: UdpSocketState,
    udp: UdpState,
    size: usize,
    segments: usize,
    transmits: Vec<Transmit>,
}

impl MmsgQuinnSender {
    // Makes transmits[i] carry `segments` datagrams (1 ..= self.segments); the buffer keeps
    // its capacity, so neither shortening nor restoring allocates.
    fn shape(&mut self, i: usize, segments: usize) {
        let t = &mut self.transmits[i];
        t.contents.resize(segments * self.size, 7);
        t.segment_size = if segments > 1 { Some(self.size) } else { None };
    }
}

unsafe fn socket_addr(a: *const sockaddr, len: socklen_t) -> Option<SocketAddr> {
    if a.is_null() {
        return None;
    }
    match c_int::from((*a).sa_family) {
        libc::AF_INET if len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
            let v4 = &*(a as *const libc::sockaddr_in);
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(v4.sin_addr.s_addr.to_ne_bytes()),
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 if len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
            let v6 = &*(a as *const libc::sockaddr_in6);
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(v6.sin6_addr.s6_addr),
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// # Safety
/// `dest` points to `dest_len` readable bytes; `error` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmsg_quinn_sender_new(
    fd: c_int,
    dest: *const sockaddr,
    dest_len: socklen_t,
    size: size_t,
    max_segments: size_t,
    error: *mut c_int,
) -> *mut MmsgQuinnSender {
    let fail = |e: c_int| {
        if !error.is_null() {
            *error = e;
        }
        std::ptr::null_mut()
    };
    let destination = match socket_addr(dest, dest_len) {
        Some(a) => a,
        None => return fail(libc::EAFNOSUPPORT),
    };
    if fd < 0 || size == 0 || size > usize::from(u16::MAX) {
        return fail(libc::EINVAL);
    }
    let fd = Fd(fd);
    if let Err(e) = UdpSocketState::configure(UdpSockRef::from(&fd)) {
        return fail(errno_of(&e));
    }
    let udp = UdpState::new();
    let segments = udp.max_gso_segments().min(max_segments).max(1);
    let transmits = (0..BATCH_SIZE)
        .map(|_| Transmit {
            destination,
            ecn: None,
            contents: vec![7; segments * size],
            segment_size: if segments > 1 { Some(size) } else { None },
            src_ip: None,
        })
        .collect();
    Box::into_raw(Box::new(MmsgQuinnSender {
        fd,
        socket: UdpSocketState::new(),
        udp,
        size,
        segments,
        transmits,
    }))
}

/// # Safety
/// `s` comes from `mmsg_quinn_sender_new`.
#[no_mangle]
pub unsafe extern "C" fn mmsg_quinn_sender_segments(s: *const MmsgQuinnSender) -> size_t {
    (*s).segments
}

/// # Safety
/// `s` comes from `mmsg_quinn_sender_new`.
#[no_mangle]
pub unsafe extern "C" fn mmsg_quinn_send(s: *mut MmsgQuinnSender, n: size_t) -> MmsgQuinnMoved {
    let s = &mut *s;
    let mut moved = MmsgQuinnMoved { datagrams: 0, calls: 0, error: 0 };
    let segments = s.segments;
    while moved.datagrams < n {
        let left = n - moved.datagrams;
        let count = ((left + segments - 1) / segments).min(BATCH_SIZE);
        // All transmits are full but possibly the last of the whole request.
        let last = (left - (count - 1) * segments).min(segments);
        s.shape(count - 1, last);
        moved.calls += 1;
        let sent = s.socket.send(UdpSockRef::from(&s.fd), &s.udp, &s.transmits[..count]);
        s.shape(count - 1, segments);
        match sent {
            // quinn-udp reports transmits; a partial sendmmsg stops before the short one.
            Ok(t) if t == count => moved.datagrams += (count - 1) * segments + last,
            Ok(t) if t > 0 => moved.datagrams += t * segments,
            Ok(_) => {
                moved.error = libc::EAGAIN;
                break;
            }
            Err(e) => {
                moved.error = errno_of(&e);
                break;
            }
        }
    }
    moved
}

/// # Safety
/// `s` is null or comes from `mmsg_quinn_sender_new`, and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mmsg_quinn_sender_free(s: *mut MmsgQuinnSender) {
    if !s.is_null() {
        drop(Box::from_raw(s));
    }
}

// ---- receive ---------------------------------------------------------------------------

// A GRO datagram is at most 64 KiB.
const SLOT: usize = 1 << 16;

pub struct MmsgQuinnReceiver {
    fd: Fd,
    socket: UdpSocketState,
    buffer: Vec<u8>,
    meta: Vec<RecvMeta>,
}

/// # Safety
/// `error` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn mmsg_quinn_receiver_new(
    fd: c_int,
    error: *mut c_int,
) -> *mut MmsgQuinnReceiver {
    let fd = Fd(fd);
    let configured = if fd.0 < 0 {
        Err(io::Error::from_raw_os_error(libc::EBADF))
    } else {
        UdpSocketState::configure(UdpSockRef::from(&fd))
    };
    if let Err(e) = configured {
        if !error.is_null() {
            *error = errno_of(&e);
        }
        return std::ptr::null_mut();
    }
    Box::into_raw(Box::new(MmsgQuinnReceiver {
        fd,
        socket: UdpSocketState::new(),
        buffer: vec![0; SLOT * BATCH_SIZE],
        meta: vec![RecvMeta::default(); BATCH_SIZE],
    }))
}

/// # Safety
/// `r` comes from `mmsg_quinn_receiver_new`.
#[no_mangle]
pub unsafe extern "C" fn mmsg_quinn_recv(
    r: *mut MmsgQuinnReceiver,
    slots: size_t,
) -> MmsgQuinnMoved {
    let r = &mut *r;
    let slots = slots.clamp(1, BATCH_SIZE);
    let mut chunks = r.buffer.chunks_mut(SLOT);
    let mut bufs: [IoSliceMut; BATCH_SIZE] =
        std::array::from_fn(|_| IoSliceMut::new(chunks.next().unwrap_or_default()));
    let mut moved = MmsgQuinnMoved { datagrams: 0, calls: 1, error: 0 };
    match r.socket.recv(UdpSockRef::from(&r.fd), &mut bufs[..slots], &mut r.meta[..slots]) {
        Ok(n) => {
            for m in &r.meta[..n] {
                // A GRO datagram holds ceil(len / stride) segments (the last one shorter);
                // without GRO, stride == len. An empty datagram is one too.
                moved.datagrams += match m.stride {
                    0 => 1,
                    stride => ((m.len + stride - 1) / stride).max(1),
                };
            }
        }
        Err(e) => moved.error = errno_of(&e),
    }
    moved
}

/// # Safety
/// `r` is null or comes from `mmsg_quinn_receiver_new`, and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mmsg_quinn_receiver_free(r: *mut MmsgQuinnReceiver) {
    if !r.is_null() {
        drop(Box::from_raw(r));
    }
}
