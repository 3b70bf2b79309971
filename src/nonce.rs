//! Nonces for the envelope: fresh OS randomness, fetched in bulk so that sealing a cookie costs
//! no system call, and never shared with a forked child.
//!
//! Why this is safe. A secretbox nonce has one requirement: it is never used twice under one
//! key (a repeat shows the XOR of two plaintexts and lets Poly1305 tags be forged). Nonces are
//! 24 random bytes, so across every process that holds the key the chance of any repeat among
//! 2**64 cookies is under 2**-64 (the birthday bound on 192 bits), provided every nonce is
//! (1) drawn from the OS generator, (2) handed out once. Both hold here:
//! - (1) The bytes come straight from `getrandom`, as before; only the number of calls changes
//!   (one per `BUFFERED` nonces instead of one per nonce). There is no generator of our own to
//!   get wrong and no cryptographic code written by hand.
//! - (2) Each thread has its own buffer (no lock, nothing shared, the same on a free-threaded
//!   CPython), and a nonce is cut off the end of it as it is handed out. The one way a buffer
//!   could be handed out twice is `fork`: the child gets a copy of the parent's memory, so
//!   parent and child would seal with the same buffered nonces. The buffer therefore lives in a
//!   page marked `MADV_WIPEONFORK` (Linux 4.14 and later): the kernel gives a forked child that
//!   page filled with zeros, which reads as an empty buffer, so the child's first nonce is a
//!   fresh `getrandom`. This holds for every way a process forks (`os.fork`, multiprocessing,
//!   a C library calling `fork` or `clone` directly), with no handler to register and no pid
//!   to compare.
//!
//! Where the page cannot be had (another OS, a kernel before 4.14, `mmap` refused, a thread
//! being torn down), every nonce is one `getrandom` call, exactly as before.

/// A secretbox nonce: 24 bytes.
pub const NONCE_LEN: usize = 24;

/// Fills `nonce` with fresh random bytes that no other call, thread or process is given.
pub fn fill(nonce: &mut [u8; NONCE_LEN]) -> Result<(), getrandom::Error> {
    #[cfg(target_os = "linux")]
    if let Some(result) = buffered::fill(nonce) {
        return result;
    }
    getrandom::fill(nonce)
}

#[cfg(target_os = "linux")]
mod buffered {
    use std::cell::Cell;
    use std::ptr::NonNull;

    use super::NONCE_LEN;

    const PAGE: usize = 4096;
    /// Nonces per `getrandom` call: as many as fit in the page after the count.
    pub(super) const BUFFERED: usize = (PAGE - std::mem::size_of::<usize>()) / NONCE_LEN;

    /// The layout of the page. All zeros (a fresh page, or a forked child's copy) is an empty
    /// buffer.
    #[repr(C)]
    struct Buffer {
        /// Unused bytes, at the start of `bytes`; a nonce is taken from the end of them.
        left: usize,
        bytes: [u8; BUFFERED * NONCE_LEN],
    }

    const _: () = assert!(std::mem::size_of::<Buffer>() <= PAGE);

    /// This thread's page, unmapped when the thread ends.
    struct Page(Option<NonNull<Buffer>>);

    impl Page {
        fn map() -> Self {
            // SAFETY: an anonymous private mapping of one page, which no other code knows of;
            // checked for failure before use.
            unsafe {
                let ptr = libc::mmap(
                    std::ptr::null_mut(),
                    PAGE,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                if ptr == libc::MAP_FAILED {
                    return Page(None);
                }
                // Without the wipe a child would reuse the parent's nonces: no buffer at all.
                if libc::madvise(ptr, PAGE, libc::MADV_WIPEONFORK) != 0 {
                    libc::munmap(ptr, PAGE);
                    return Page(None);
                }
                Page(NonNull::new(ptr.cast()))
            }
        }
    }

    impl Drop for Page {
        fn drop(&mut self) {
            if let Some(ptr) = self.0 {
                // SAFETY: the page this thread mapped; nothing refers to it after this.
                unsafe { libc::munmap(ptr.as_ptr().cast(), PAGE) };
            }
        }
    }

    thread_local! {
        // Mapped on a thread's first seal, not before: most threads never seal.
        static PAGE_OF_THREAD: Cell<Option<Page>> = const { Cell::new(None) };
    }

    /// `None` when this thread has no wipe-on-fork page: the caller asks the OS directly.
    pub(super) fn fill(nonce: &mut [u8; NONCE_LEN]) -> Option<Result<(), getrandom::Error>> {
        // try_with: during the thread's teardown the page may be gone already.
        PAGE_OF_THREAD
            .try_with(|cell| {
                let page = cell.take().unwrap_or_else(Page::map);
                let result = page.0.map(|ptr| {
                    // SAFETY: the page is this thread's alone and mapped until `page` drops;
                    // no other reference to it lives across this call.
                    take(unsafe { &mut *ptr.as_ptr() }, nonce)
                });
                cell.set(Some(page));
                result
            })
            .ok()
            .flatten()
    }

    fn take(buffer: &mut Buffer, nonce: &mut [u8; NONCE_LEN]) -> Result<(), getrandom::Error> {
        // A count that is not a whole number of nonces inside the buffer cannot be written by
        // this code; treat it as empty rather than trust it.
        if buffer.left < NONCE_LEN
            || buffer.left > buffer.bytes.len()
            || buffer.left % NONCE_LEN != 0
        {
            buffer.left = 0;
            getrandom::fill(&mut buffer.bytes)?;
            buffer.left = buffer.bytes.len();
        }
        let start = buffer.left - NONCE_LEN;
        let taken = &mut buffer.bytes[start..buffer.left];
        nonce.copy_from_slice(taken);
        // Handed out once: zeroed, and the count moved past it before anyone can ask again.
        taken.fill(0);
        buffer.left = start;
        Ok(())
    }

    #[cfg(test)]
    pub(super) fn has_page() -> bool {
        PAGE_OF_THREAD.with(|cell| {
            let page = cell.take();
            let mapped = page.as_ref().is_some_and(|p| p.0.is_some());
            cell.set(page);
            mapped
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn many(n: usize) -> Vec<[u8; NONCE_LEN]> {
        (0..n)
            .map(|_| {
                let mut nonce = [0; NONCE_LEN];
                fill(&mut nonce).unwrap();
                nonce
            })
            .collect()
    }

    #[test]
    fn nonces_do_not_repeat_across_refills() {
        let nonces = many(10_000);
        let distinct: HashSet<_> = nonces.iter().collect();
        assert_eq!(distinct.len(), nonces.len());
        assert!(!nonces.contains(&[0; NONCE_LEN]));
    }

    #[test]
    fn threads_get_nonces_of_their_own() {
        let handles: Vec<_> = (0..8).map(|_| std::thread::spawn(|| many(2_000))).collect();
        let mut seen = HashSet::new();
        for handle in handles {
            for nonce in handle.join().unwrap() {
                assert!(seen.insert(nonce), "a nonce was handed out twice");
            }
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_forked_child_never_reuses_the_parents_buffer() {
        many(1); // the buffer is full, less one nonce
        assert!(buffered::has_page(), "this kernel has no MADV_WIPEONFORK");
        let mut fds = [0; 2];
        // SAFETY: plain POSIX calls; the child only fills nonces, writes them and exits.
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            let pid = libc::fork();
            assert!(pid >= 0);
            if pid == 0 {
                let mut nonce = [0; NONCE_LEN];
                let mut code = 0;
                for _ in 0..buffered::BUFFERED {
                    if fill(&mut nonce).is_err()
                        || libc::write(fds[1], nonce.as_ptr().cast(), NONCE_LEN)
                            != NONCE_LEN as isize
                    {
                        code = 1;
                    }
                }
                libc::_exit(code);
            }
            libc::close(fds[1]);
            let ours: HashSet<_> = many(buffered::BUFFERED).into_iter().collect();
            let mut theirs = Vec::new();
            let mut nonce = [0u8; NONCE_LEN];
            while libc::read(fds[0], nonce.as_mut_ptr().cast(), NONCE_LEN) == NONCE_LEN as isize {
                theirs.push(nonce);
            }
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
            assert_eq!(theirs.len(), buffered::BUFFERED);
            for nonce in &theirs {
                assert!(
                    !ours.contains(nonce),
                    "the child sealed with the parent's nonce"
                );
            }
        }
    }
}
