//! Arrays that are either owned or borrowed from a read-only map of a saved index file.
//!
//! A loaded index with `mmap=True` reads vectors and links straight from the page cache; the
//! first write to an array copies it into memory (copy on write), so the file is never changed.

use std::ops::Deref;
use std::sync::Arc;

use memmap2::Mmap;

/// Plain old data: any bit pattern is a valid value and the type has no padding, so a slice of
/// it can be viewed as bytes and back (little-endian files; `persist` rejects other byte orders).
///
/// # Safety
/// Implement only for types where every bit pattern is valid and there is no padding.
pub unsafe trait Pod: Copy + Send + Sync + 'static {}
unsafe impl Pod for u8 {}
unsafe impl Pod for i8 {}
unsafe impl Pod for u32 {}
unsafe impl Pod for u64 {}
unsafe impl Pod for f32 {}
unsafe impl Pod for half::f16 {}

pub fn as_bytes<T: Pod>(s: &[T]) -> &[u8] {
    // SAFETY: T is Pod (no padding), so its memory is plain initialised bytes.
    unsafe { std::slice::from_raw_parts(s.as_ptr() as *const u8, std::mem::size_of_val(s)) }
}

pub enum Buf<T: Pod> {
    Owned(Vec<T>),
    Mapped {
        map: Arc<Mmap>,
        offset: usize,
        len: usize,
    },
}

impl<T: Pod> Default for Buf<T> {
    fn default() -> Self {
        Buf::Owned(Vec::new())
    }
}

impl<T: Pod> Clone for Buf<T> {
    fn clone(&self) -> Self {
        match self {
            Buf::Owned(v) => Buf::Owned(v.clone()),
            Buf::Mapped { map, offset, len } => Buf::Mapped {
                map: map.clone(),
                offset: *offset,
                len: *len,
            },
        }
    }
}

impl<T: Pod> Buf<T> {
    /// A view of `len` elements at byte `offset` of the map; None when out of bounds or
    /// misaligned (the caller reports a corrupt file).
    pub fn mapped(map: &Arc<Mmap>, offset: usize, len: usize) -> Option<Self> {
        let bytes = len.checked_mul(std::mem::size_of::<T>())?;
        let end = offset.checked_add(bytes)?;
        if end > map.len()
            || !(map.as_ptr() as usize + offset).is_multiple_of(std::mem::align_of::<T>())
        {
            return None;
        }
        Some(Buf::Mapped {
            map: map.clone(),
            offset,
            len,
        })
    }

    /// The owned array, copying it out of the map on the first write.
    pub fn to_mut(&mut self) -> &mut Vec<T> {
        if let Buf::Mapped { .. } = self {
            *self = Buf::Owned(self.deref().to_vec());
        }
        match self {
            Buf::Owned(v) => v,
            Buf::Mapped { .. } => unreachable!("converted to owned above"),
        }
    }

    pub fn is_mapped(&self) -> bool {
        matches!(self, Buf::Mapped { .. })
    }
}

impl<T: Pod> Deref for Buf<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match self {
            Buf::Owned(v) => v,
            Buf::Mapped { map, offset, len } => {
                // SAFETY: bounds and alignment were checked in `mapped`; the map is read-only
                // and lives as long as the Arc we hold; T is Pod, so any bytes are valid.
                unsafe { std::slice::from_raw_parts(map.as_ptr().add(*offset) as *const T, *len) }
            }
        }
    }
}

impl<T: Pod> From<Vec<T>> for Buf<T> {
    fn from(v: Vec<T>) -> Self {
        Buf::Owned(v)
    }
}
