//! The file behind an index loaded with `mmap=True`, checked before each use of the map.
//!
//! A mapped file must only be replaced by rename (as `save` does): the map keeps the old inode.
//! A file rewritten in place changes the mapped bytes under the index (links then point
//! anywhere), and one truncated in place makes reads past its new end fault with SIGBUS. Both are
//! refused here, before any mapped byte is read: the file's size, modification time and inode
//! must be those seen at load. A change that lands during a search is not caught (there is no
//! way to lock a file against other writers); the bindings turn any panic it causes into an
//! exception, but a truncation at that moment can still fault.

use std::fs::{File, Metadata};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::CoreError;

#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(meta: &Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }
    }
}

pub(crate) struct MappedFile {
    file: File,
    path: PathBuf,
    stamp: Stamp,
}

impl MappedFile {
    pub(crate) fn new(file: File, path: &Path) -> Result<Self, CoreError> {
        let meta = file
            .metadata()
            .map_err(|e| CoreError::Io(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(MappedFile {
            stamp: Stamp::of(&meta),
            file,
            path: path.to_path_buf(),
        })
    }

    pub(crate) fn len(&self) -> u64 {
        self.stamp.len
    }

    /// Err when the mapped file was changed in place since it was loaded (an fstat, ~1 us).
    pub(crate) fn check(&self) -> Result<(), CoreError> {
        let changed = match self.file.metadata() {
            Ok(meta) => Stamp::of(&meta) != self.stamp,
            Err(_) => true,
        };
        if changed {
            return Err(CoreError::Io(
                ErrorKind::Other,
                format!(
                    "{} was changed in place while this index had it mapped (mmap=True); load it \
                     again, and replace a mapped index file only by rename, as save() does",
                    self.path.display()
                ),
            ));
        }
        Ok(())
    }
}
