//! weave::fs: std's file calls, run on the blocking pool so that only the
//! calling ULT waits.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use weave::fs;
use weave::thread::{self, BlockReason, ThreadState};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("weave-fs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn files_round_trip_from_ults() {
    let d = scratch("roundtrip");
    let hs: Vec<_> = (0..50)
        .map(|i| {
            let d = d.clone();
            thread::spawn(move || {
                let p = d.join(format!("f{i}"));
                fs::write(&p, format!("file {i}")).unwrap();
                assert_eq!(fs::read_to_string(&p).unwrap(), format!("file {i}"));
                let mut f = fs::OpenOptions::new().append(true).open(&p).unwrap();
                f.write_all(b"!").unwrap();
                let mut f = fs::File::open(&p).unwrap();
                f.seek(SeekFrom::Start(5)).unwrap();
                let mut rest = String::new();
                f.read_to_string(&mut rest).unwrap();
                assert_eq!(rest, format!("{i}!"));
                assert_eq!(f.metadata().unwrap().len(), rest.len() as u64 + 5);
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(fs::read_dir(&d).unwrap().count(), 50);
    fs::remove_dir_all(&d).unwrap();
    assert!(!fs::exists(&d).unwrap());
    let e = fs::read("/nonexistent/weave/file").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn a_file_call_that_waits_blocks_only_the_ult() {
    // Opening a FIFO for reading waits in the kernel until a writer opens
    // it: a stand-in for a slow disk.
    let d = scratch("fifo");
    let fifo = d.join("pipe");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let p = fifo.clone();
    let reader = thread::spawn(move || fs::read_to_string(&p).unwrap());
    let id = reader.thread().id();
    let t = Instant::now();
    loop {
        let st = thread::threads()
            .into_iter()
            .find(|r| r.id == id)
            .map(|r| r.state);
        if st == Some(ThreadState::Blocked(BlockReason::Io)) {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "reader state {st:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
    // Every LWP still runs ULTs.
    let hs: Vec<_> = (0..64).map(|i| thread::spawn(move || i * 2)).collect();
    let sum: i32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, 63 * 64);
    std::fs::write(&fifo, "through the pipe").unwrap();
    assert_eq!(reader.join().unwrap(), "through the pipe");
    std::fs::remove_dir_all(&d).unwrap();
}
