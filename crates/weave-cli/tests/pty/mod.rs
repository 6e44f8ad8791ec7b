//! A pseudo terminal for the tests that need a stream of `weave` to be a
//! terminal (the bench's progress line, `weave top`'s redraw): the slave
//! side goes to the child, the master side is drained by a thread.

use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Both sides of a new pseudo terminal.
pub struct Pty {
    pub master: File,
    pub slave: File,
}

/// Opens a pseudo terminal of `rows` x `cols`.
pub fn open(rows: u16, cols: u16) -> Pty {
    // SAFETY: posix_openpt has no preconditions; the result is checked.
    let fd = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY) };
    assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is open and owned by nothing else from here on.
    let master = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    // SAFETY: `fd` is an open pseudo-terminal master.
    assert_eq!(unsafe { libc::grantpt(fd) }, 0);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::unlockpt(fd) }, 0);
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one `winsize` through the pointer, which
    // points to a local of that type.
    assert_eq!(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &size) }, 0);
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: `name` is writable for its whole length, which is passed.
    let named = unsafe { libc::ptsname_r(fd, name.as_mut_ptr(), name.len()) };
    assert_eq!(named, 0);
    // SAFETY: ptsname_r wrote a NUL-terminated path into `name`.
    let path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) };
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path.to_str().unwrap())
        .unwrap();
    Pty { master, slave }
}

/// What the terminal has received, read by a thread so that the child
/// never blocks on a full terminal. Reading ends (EIO) once the last
/// holder of the slave side has closed it.
pub struct Drain {
    got: Arc<Mutex<Vec<u8>>>,
    reader: JoinHandle<()>,
}

impl Drain {
    pub fn start(mut master: File) -> Drain {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Drain { got, reader }
    }

    /// What has arrived so far.
    // Each test file compiles this module on its own; the bench's never
    // looks before the end.
    #[allow(dead_code)]
    pub fn so_far(&self) -> String {
        String::from_utf8_lossy(&self.got.lock().unwrap()).into_owned()
    }

    /// Everything, once the slave side is closed.
    pub fn finish(self) -> String {
        self.reader.join().unwrap();
        let got = self.got.lock().unwrap();
        String::from_utf8_lossy(&got).into_owned()
    }
}
