//! Files with the shape of `std::fs`, whose calls block only the calling
//! thread.
//!
//! Linux has no readiness for regular files: `read` on a file never says
//! `EAGAIN`, it just waits for the disk. So each call here runs on the
//! blocking pool ([`crate::blocking`]) while the calling ULT waits and its
//! LWP runs other threads. That hand-off costs a few µs, more than a read
//! from the page cache; code that reads many small pieces should wrap the
//! file in a `BufReader`, or do the whole job in one `weave::blocking`
//! call. On a plain OS thread every call is std's, made in place.
//!
//! | std                          | weave              |
//! |------------------------------|--------------------|
//! | `std::fs::read`, `write`, ... | [`read`], [`write()`], ... (same names) |
//! | `std::fs::File`              | [`File`]           |
//! | `std::fs::OpenOptions`       | [`OpenOptions`]    |
//! | `std::fs::read_dir`          | [`read_dir`] (the listing is read at once) |
//!
//! `Metadata`, `Permissions`, `DirEntry` and `FileType` are std's own.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

pub use std::fs::{DirEntry, FileType, Metadata, Permissions};

use crate::blocking;

/// Defines a free function that runs its std namesake on the blocking pool.
macro_rules! offload {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) -> io::Result<$ret> {
            $(let $arg = $arg.as_ref();)*
            blocking(move || std::fs::$name($($arg),*))
        }
    };
}

offload!(
    /// Reads a whole file into a vector.
    read(path: impl AsRef<Path>) -> Vec<u8>
);
offload!(
    /// Reads a whole file into a string.
    read_to_string(path: impl AsRef<Path>) -> String
);
offload!(
    /// Writes a whole file, creating or truncating it.
    write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> ()
);
offload!(
    /// Copies a file's contents and permissions; returns the bytes copied.
    copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> u64
);
offload!(
    /// Renames a file or directory, replacing `to` if it exists.
    rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> ()
);
offload!(
    /// Removes a file.
    remove_file(path: impl AsRef<Path>) -> ()
);
offload!(
    /// Removes an empty directory.
    remove_dir(path: impl AsRef<Path>) -> ()
);
offload!(
    /// Removes a directory and everything in it.
    remove_dir_all(path: impl AsRef<Path>) -> ()
);
offload!(
    /// Creates a directory.
    create_dir(path: impl AsRef<Path>) -> ()
);
offload!(
    /// Creates a directory and any missing parents.
    create_dir_all(path: impl AsRef<Path>) -> ()
);
offload!(
    /// The metadata of a path, following symlinks.
    metadata(path: impl AsRef<Path>) -> Metadata
);
offload!(
    /// The metadata of a path, not following symlinks.
    symlink_metadata(path: impl AsRef<Path>) -> Metadata
);
offload!(
    /// The absolute path with every symlink resolved.
    canonicalize(path: impl AsRef<Path>) -> PathBuf
);
offload!(
    /// Makes a hard link `link` to `original`.
    hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> ()
);
offload!(
    /// The target of a symlink.
    read_link(path: impl AsRef<Path>) -> PathBuf
);

/// Whether a path exists (an error if that cannot be told), as
/// `std::fs::exists`.
pub fn exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = path.as_ref();
    blocking(move || path.try_exists())
}

/// Sets the permissions of a path.
pub fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    let path = path.as_ref();
    blocking(move || std::fs::set_permissions(path, perm))
}

/// The entries of a directory. Unlike std's, the whole listing is read by
/// one blocking call, then iterated without further waits.
pub fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref();
    let entries = blocking(move || {
        std::fs::read_dir(path).map(|d| d.collect::<Vec<io::Result<DirEntry>>>())
    })?;
    Ok(ReadDir {
        entries: entries.into_iter(),
    })
}

/// The entries of a directory; see [`read_dir`].
#[derive(Debug)]
pub struct ReadDir {
    entries: std::vec::IntoIter<io::Result<DirEntry>>,
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;
    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        self.entries.next()
    }
}

/// An open file: `std::fs::File` whose calls run on the blocking pool.
pub struct File {
    inner: std::fs::File,
}

impl File {
    /// Opens a file for reading.
    pub fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Opens a file for writing, creating or truncating it.
    pub fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// Creates a new file for reading and writing; an error if it exists.
    pub fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
    }

    /// Options to open a file with.
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Flushes data and metadata to the device.
    pub fn sync_all(&self) -> io::Result<()> {
        self.offload(|f| f.sync_all())
    }

    /// Flushes data to the device.
    pub fn sync_data(&self) -> io::Result<()> {
        self.offload(|f| f.sync_data())
    }

    /// Truncates or extends the file to `size` bytes.
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        self.offload(|f| f.set_len(size))
    }

    /// The file's metadata.
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.offload(|f| f.metadata())
    }

    /// A new handle to the same open file.
    pub fn try_clone(&self) -> io::Result<File> {
        Ok(File {
            inner: self.inner.try_clone()?,
        })
    }

    /// Changes the file's permissions.
    pub fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        self.offload(move |f| f.set_permissions(perm))
    }

    fn offload<R: Send>(&self, f: impl FnOnce(&std::fs::File) -> R + Send) -> R {
        let file = &self.inner;
        blocking(move || f(file))
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.offload(|mut f| f.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.offload(|mut f| f.read_vectored(bufs))
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.offload(|mut f| f.read_to_end(buf))
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        self.offload(|mut f| f.read_to_string(buf))
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.offload(|mut f| f.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.offload(|mut f| f.write_vectored(bufs))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.offload(|mut f| f.write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        // lseek does not wait for the device: no hand-off.
        (&self.inner).seek(pos)
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        (&*self).read_to_string(buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl From<std::fs::File> for File {
    fn from(inner: std::fs::File) -> File {
        File { inner }
    }
}

impl From<File> for std::fs::File {
    fn from(f: File) -> std::fs::File {
        f.inner
    }
}

impl From<OwnedFd> for File {
    fn from(fd: OwnedFd) -> File {
        File { inner: fd.into() }
    }
}

impl From<File> for OwnedFd {
    fn from(f: File) -> OwnedFd {
        f.inner.into()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl IntoRawFd for File {
    fn into_raw_fd(self) -> RawFd {
        self.inner.into_raw_fd()
    }
}

impl FromRawFd for File {
    /// # Safety
    /// `fd` must be an open file descriptor the caller owns, as for std.
    unsafe fn from_raw_fd(fd: RawFd) -> File {
        File {
            // SAFETY: the caller's contract is std's.
            inner: unsafe { std::fs::File::from_raw_fd(fd) },
        }
    }
}

/// Options to open a file with, as `std::fs::OpenOptions`; `open` runs on
/// the blocking pool.
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// No access at all yet: set at least `read` or `write`.
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Open for reading.
    pub fn read(&mut self, on: bool) -> &mut OpenOptions {
        self.0.read(on);
        self
    }

    /// Open for writing.
    pub fn write(&mut self, on: bool) -> &mut OpenOptions {
        self.0.write(on);
        self
    }

    /// Writes go to the end of the file.
    pub fn append(&mut self, on: bool) -> &mut OpenOptions {
        self.0.append(on);
        self
    }

    /// Truncate to 0 bytes on open.
    pub fn truncate(&mut self, on: bool) -> &mut OpenOptions {
        self.0.truncate(on);
        self
    }

    /// Create the file if it does not exist.
    pub fn create(&mut self, on: bool) -> &mut OpenOptions {
        self.0.create(on);
        self
    }

    /// Create the file; an error if it exists.
    pub fn create_new(&mut self, on: bool) -> &mut OpenOptions {
        self.0.create_new(on);
        self
    }

    /// Opens `path` with these options.
    pub fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref();
        let opts = &self.0;
        blocking(move || opts.open(path)).map(File::from)
    }
}

impl std::os::unix::fs::OpenOptionsExt for OpenOptions {
    fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.0.mode(mode);
        self
    }

    fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.0.custom_flags(flags);
        self
    }
}
