//! The saved-index file format, version 1 (little-endian).
//!
//! ```text
//! 0   magic "DJCVIDX\0"          8   version u32 = 1        12  byte-order mark u32 0x01020304
//! 16  dim u32                    20  metric u8, kind u8, dtype u8, 0 u8
//! 24  M u32   28 ef_construction u32   32 ef_search u32   36 namespaces u32
//! 40  payload length u64         48  xxh3-64 of the payload  56  xxh3-64 of bytes 0..56
//! 64  payload: per namespace, its name, flags, arrays and graph.
//! ```
//! Every array is its length (u64) then its elements at a 64-byte aligned file offset, so a
//! read-only map of the file can serve the arrays in place. Files are written to a temporary
//! name, fsynced and renamed over the target, so a crash leaves the old file or the new one.
//! Loading checks both checksums and then every length and link, so a corrupt, truncated or
//! foreign file is an error, never a crash.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use super::buf::{as_bytes, Buf, Pod};
use super::hnsw::{Graph, NO_ENTRY};
use super::index::{Config, Kind, Shared, VectorIndex};
use super::kernels::Metric;
use super::mapped::MappedFile;
use super::namespace::Namespace;
use super::rows::{Dtype, Rows};
use crate::error::CoreError;

const MAGIC: &[u8; 8] = b"DJCVIDX\0";
const VERSION: u32 = 1;
const BYTE_ORDER: u32 = 0x0102_0304;
const HEADER: usize = 64;
const ALIGN: u64 = 64;

fn io_err(path: &Path, e: std::io::Error) -> CoreError {
    CoreError::Io(e.kind(), format!("{}: {e}", path.display()))
}

fn metric_code(m: Metric) -> u8 {
    match m {
        Metric::Cosine => 0,
        Metric::Dot => 1,
        Metric::L2 => 2,
    }
}

struct Out<W: Write> {
    w: W,
    hash: Xxh3,
    pos: u64,
}

impl<W: Write> Out<W> {
    fn bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.w.write_all(b)?;
        self.hash.update(b);
        self.pos += b.len() as u64;
        Ok(())
    }
    fn u8(&mut self, v: u8) -> std::io::Result<()> {
        self.bytes(&[v])
    }
    fn u32(&mut self, v: u32) -> std::io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> std::io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    fn array<T: Pod>(&mut self, a: &[T]) -> std::io::Result<()> {
        self.u64(a.len() as u64)?;
        let pad = (ALIGN - self.pos % ALIGN) % ALIGN;
        self.bytes(&[0u8; ALIGN as usize][..pad as usize])?;
        self.bytes(as_bytes(a))
    }
}

fn write_payload<W: Write>(out: &mut Out<W>, spaces: &[(String, Shared)]) -> std::io::Result<()> {
    for (name, shared) in spaces {
        let ns = shared.read();
        let r = &ns.rows;
        out.u32(name.len() as u32)?;
        out.bytes(name.as_bytes())?;
        out.u8(r.originals as u8)?;
        out.u8(ns.graph.is_some() as u8)?;
        out.u8(r.nav as u8)?;
        out.array(&r.f32s)?;
        out.array(&r.f16s)?;
        out.array(&r.i8s)?;
        out.array(&r.scales)?;
        out.array(&r.sqnorms)?;
        out.array(&r.ids)?;
        out.array(&r.dead)?;
        if let Some(g) = &ns.graph {
            out.u32(g.m as u32)?;
            out.u32(g.ef_construction as u32)?;
            out.u32(g.entry)?;
            out.u32(g.max_level as u32)?;
            out.u64(g.rng)?;
            out.array(&g.level0)?;
            out.array(&g.levels)?;
            let mut nodes: Vec<(&u32, &Vec<u32>)> = g.upper.iter().collect();
            nodes.sort_unstable_by_key(|(n, _)| **n);
            out.u64(nodes.len() as u64)?;
            for (node, links) in nodes {
                out.u32(*node)?;
                out.array(links)?;
            }
        }
    }
    Ok(())
}

fn header(cfg: &Config, spaces: usize, payload_len: u64, payload_hash: u64) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[0..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&BYTE_ORDER.to_le_bytes());
    h[16..20].copy_from_slice(&(cfg.dim as u32).to_le_bytes());
    h[20] = metric_code(cfg.metric);
    h[21] = match cfg.kind {
        Kind::Flat => 0,
        Kind::Hnsw => 1,
        Kind::Auto => 2,
    };
    h[22] = match cfg.dtype {
        Dtype::F32 => 0,
        Dtype::F16 => 1,
        Dtype::I8 => 2,
    };
    h[24..28].copy_from_slice(&(cfg.m as u32).to_le_bytes());
    h[28..32].copy_from_slice(&(cfg.ef_construction as u32).to_le_bytes());
    h[32..36].copy_from_slice(&(cfg.ef_search as u32).to_le_bytes());
    h[36..40].copy_from_slice(&(spaces as u32).to_le_bytes());
    h[40..48].copy_from_slice(&payload_len.to_le_bytes());
    h[48..56].copy_from_slice(&payload_hash.to_le_bytes());
    let hh = xxh3_64(&h[0..56]);
    h[56..64].copy_from_slice(&hh.to_le_bytes());
    h
}

/// Writes the index to `path` atomically (temporary file, fsync, rename, fsync of the folder).
pub fn save(index: &VectorIndex, path: &Path) -> Result<(), CoreError> {
    index.check_mapped()?;
    if cfg!(target_endian = "big") {
        return Err(CoreError::InvalidArgument(
            "saving is supported on little-endian machines only".into(),
        ));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path.file_name().ok_or_else(|| {
        CoreError::InvalidArgument(format!("{} is not a file path", path.display()))
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let file = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
        let mut out = Out {
            w: BufWriter::with_capacity(1 << 20, file),
            hash: Xxh3::new(),
            pos: HEADER as u64,
        };
        out.w
            .write_all(&[0u8; HEADER])
            .map_err(|e| io_err(&tmp, e))?;
        let spaces = index.namespaces_for_save();
        write_payload(&mut out, &spaces).map_err(|e| io_err(&tmp, e))?;
        let (cfg, count) = (*index.config(), spaces.len());
        let payload_len = out.pos - HEADER as u64;
        let h = header(&cfg, count, payload_len, out.hash.digest());
        let mut file = out
            .w
            .into_inner()
            .map_err(|e| io_err(&tmp, e.into_error()))?;
        use std::io::{Seek, SeekFrom};
        file.seek(SeekFrom::Start(0)).map_err(|e| io_err(&tmp, e))?;
        file.write_all(&h).map_err(|e| io_err(&tmp, e))?;
        file.sync_all().map_err(|e| io_err(&tmp, e))?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))?;
        if let Ok(d) = File::open(&dir) {
            // Makes the rename itself durable; not every platform can fsync a folder.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn corrupt(path: &Path, why: &str) -> CoreError {
    CoreError::InvalidArgument(format!(
        "{} is not a valid dejacache vector index file ({why}); it may be truncated, damaged or another format",
        path.display()
    ))
}

/// Reads values from the payload; arrays are copied, or served from the map when one is given.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    map: Option<&'a Arc<Mmap>>,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or("unexpected end of data")?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, &'static str> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| "short read")?,
        ))
    }
    fn u64(&mut self) -> Result<u64, &'static str> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| "short read")?,
        ))
    }
    fn array<T: Pod>(&mut self) -> Result<Buf<T>, &'static str> {
        let len = usize::try_from(self.u64()?).map_err(|_| "array too long")?;
        let pad = (ALIGN as usize - self.pos % ALIGN as usize) % ALIGN as usize;
        self.take(pad)?;
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .ok_or("array too long")?;
        let start = self.pos;
        let src = self.take(bytes)?;
        if let Some(map) = self.map {
            return Buf::mapped(map, start, len).ok_or("misaligned array");
        }
        let mut v: Vec<T> = Vec::with_capacity(len);
        // SAFETY: `src` holds exactly len * size_of::<T>() bytes, the destination has room for
        // len elements, and T is Pod, so any bytes form valid values.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), v.as_mut_ptr() as *mut u8, bytes);
            v.set_len(len);
        }
        Ok(Buf::Owned(v))
    }
}

fn parse_config(h: &[u8]) -> Result<(Config, usize, u64, u64), &'static str> {
    let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().unwrap_or([0; 8]));
    if &h[0..8] != MAGIC {
        return Err("wrong magic bytes");
    }
    if u64_at(56) != xxh3_64(&h[0..56]) {
        return Err("header checksum mismatch");
    }
    if u32_at(8) != VERSION {
        return Err("unsupported format version");
    }
    if u32_at(12) != BYTE_ORDER {
        return Err("written on a machine of another byte order");
    }
    let metric = match h[20] {
        0 => Metric::Cosine,
        1 => Metric::Dot,
        2 => Metric::L2,
        _ => return Err("unknown metric"),
    };
    let kind = match h[21] {
        0 => Kind::Flat,
        1 => Kind::Hnsw,
        2 => Kind::Auto,
        _ => return Err("unknown kind"),
    };
    let dtype = match h[22] {
        0 => Dtype::F32,
        1 => Dtype::F16,
        2 => Dtype::I8,
        _ => return Err("unknown dtype"),
    };
    let cfg = Config {
        dim: u32_at(16) as usize,
        metric,
        kind,
        dtype,
        m: u32_at(24) as usize,
        ef_construction: u32_at(28) as usize,
        ef_search: u32_at(32) as usize,
    };
    cfg.validate().map_err(|_| "bad index parameters")?;
    Ok((cfg, u32_at(36) as usize, u64_at(40), u64_at(48)))
}

fn read_namespace(c: &mut Cursor, cfg: &Config) -> Result<(String, Namespace), &'static str> {
    let name_len = c.u32()? as usize;
    let name = std::str::from_utf8(c.take(name_len)?)
        .map_err(|_| "namespace name is not UTF-8")?
        .to_string();
    let originals = c.u8()? != 0;
    let has_graph = c.u8()? != 0;
    let nav = c.u8()? != 0;
    let mut rows = Rows::new(cfg.dim, cfg.dtype, cfg.metric, originals);
    if nav && cfg.dtype != Dtype::F32 {
        return Err("navigation codes on rows that are not f32");
    }
    rows.nav = nav;
    rows.f32s = c.array()?;
    rows.f16s = c.array()?;
    rows.i8s = c.array()?;
    rows.scales = c.array()?;
    rows.sqnorms = c.array()?;
    rows.ids = c.array()?;
    rows.dead = c.array()?;
    let n = rows.ids.len();
    let full = n.checked_mul(cfg.dim).ok_or("too many rows")?;
    let want = |len: usize, expect: bool, size: usize| len == if expect { size } else { 0 };
    let (is_f32, is_f16, is_i8) = (
        cfg.dtype == Dtype::F32,
        cfg.dtype == Dtype::F16,
        cfg.dtype == Dtype::I8,
    );
    if !(want(rows.f32s.len(), is_f32 || (is_i8 && rows.originals), full)
        && want(rows.f16s.len(), is_f16, full)
        && want(rows.i8s.len(), is_i8 || nav, full)
        && want(rows.scales.len(), is_i8 || nav, n)
        && want(
            rows.sqnorms.len(),
            (is_i8 || nav) && cfg.metric == Metric::L2,
            n,
        )
        && rows.dead.len() == n)
    {
        return Err("array lengths do not match the row count");
    }
    for (slot, (&id, &dead)) in rows.ids.iter().zip(rows.dead.iter()).enumerate() {
        match dead {
            0 => {
                if rows.slot_of.insert(id, slot as u32).is_some() {
                    return Err("an id appears twice");
                }
            }
            1 => rows.n_dead += 1,
            _ => return Err("bad tombstone flag"),
        }
    }
    let graph = if has_graph {
        let m = c.u32()? as usize;
        if m != cfg.m {
            return Err("graph M differs from the header's");
        }
        let mut g = Graph::new(m, c.u32()? as usize, 1);
        g.entry = c.u32()?;
        g.max_level = c.u32()? as usize;
        g.rng = c.u64()?;
        g.level0 = c.array()?;
        g.levels = c.array()?;
        let uppers = c.u64()?;
        if uppers > n as u64 {
            return Err("more upper-level nodes than rows");
        }
        for _ in 0..uppers {
            let node = c.u32()?;
            let links: Buf<u32> = c.array()?;
            g.upper.insert(node, links.to_vec());
        }
        if g.entry == NO_ENTRY && n > 0 {
            return Err("graph without an entry point");
        }
        g.validate(n).map_err(|_| "graph links out of range")?;
        Some(g)
    } else {
        None
    };
    Ok((
        name,
        Namespace {
            rows,
            graph,
            retired: false,
        },
    ))
}

/// Reads an index saved by `save`. With `mmap`, vectors and level-0 links stay in a read-only
/// map of the file and are copied into memory only when that namespace is written to.
pub fn load(path: &Path, mmap: bool) -> Result<VectorIndex, CoreError> {
    let mut file = File::open(path).map_err(|e| io_err(path, e))?;
    let map;
    let owned;
    let data: &[u8] = if mmap {
        // SAFETY: the map is read-only; like every mmap user we rely on the file not being
        // truncated by another process while mapped (saves replace files by rename, which
        // leaves the mapped inode intact). `MappedFile` refuses every later use of the map once
        // the file changed in place; here, between map and checks, it is checked after parsing.
        map = Some(Arc::new(
            unsafe { Mmap::map(&file) }.map_err(|e| io_err(path, e))?,
        ));
        map.as_deref().map(|m| &m[..]).unwrap_or(&[])
    } else {
        let mut v = Vec::new();
        file.read_to_end(&mut v).map_err(|e| io_err(path, e))?;
        owned = v;
        map = None;
        &owned
    };
    if data.len() < HEADER {
        return Err(corrupt(path, "shorter than the header"));
    }
    let (cfg, count, payload_len, payload_hash) =
        parse_config(&data[..HEADER]).map_err(|w| corrupt(path, w))?;
    if (data.len() - HEADER) as u64 != payload_len {
        return Err(corrupt(path, "length differs from the header's"));
    }
    let payload = &data[HEADER..];
    if xxh3_64(payload) != payload_hash {
        return Err(corrupt(path, "payload checksum mismatch"));
    }
    // Offsets are from the start of the file, so alignment matches what `save` wrote.
    let mut c = Cursor {
        data,
        pos: HEADER,
        map: map.as_ref(),
    };
    let mut spaces = HashMap::new();
    for _ in 0..count {
        let (name, ns) = read_namespace(&mut c, &cfg).map_err(|w| corrupt(path, w))?;
        if spaces.insert(name, ns).is_some() {
            return Err(corrupt(path, "a namespace appears twice"));
        }
    }
    if c.pos != data.len() {
        return Err(corrupt(path, "trailing bytes"));
    }
    let index = VectorIndex::from_parts(cfg, spaces);
    if map.is_none() {
        return Ok(index);
    }
    let mapped = MappedFile::new(file, path)?;
    // The checks above read the mapped bytes; a file whose size changed meanwhile is refused.
    if mapped.len() != data.len() as u64 {
        return Err(corrupt(path, "changed while it was being loaded"));
    }
    Ok(index.with_mapped(mapped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::index::DEFAULT_NAMESPACE;

    /// Re-seals a changed file with valid checksums, so that the structural checks (not the
    /// checksums) must catch what is wrong.
    fn reseal(bytes: &mut [u8]) {
        let payload_hash = xxh3_64(&bytes[HEADER..]);
        bytes[48..56].copy_from_slice(&payload_hash.to_le_bytes());
        let h = xxh3_64(&bytes[0..56]);
        bytes[56..64].copy_from_slice(&h.to_le_bytes());
    }

    #[test]
    fn resealed_damage_is_an_error_or_a_searchable_index_never_a_panic() {
        let dir = std::env::temp_dir().join(format!("dejacache-persist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (kind, dtype) in [
            (Kind::Hnsw, Dtype::F32),
            (Kind::Hnsw, Dtype::I8),
            (Kind::Flat, Dtype::I8),
        ] {
            let cfg = Config {
                dim: 4,
                metric: Metric::L2,
                kind,
                dtype,
                m: 4,
                ef_construction: 16,
                ef_search: 16,
            };
            let index = VectorIndex::new(cfg).unwrap();
            let ids: Vec<u64> = (0..60).collect();
            let data: Vec<f32> = (0..240)
                .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
                .collect();
            index.add(DEFAULT_NAMESPACE, &ids, &data, None).unwrap();
            index.add("other", &ids[..5], &data[..20], None).unwrap();
            index.remove(DEFAULT_NAMESPACE, &[3, 4, 5]);
            let path = dir.join("good.djv");
            save(&index, &path).unwrap();
            let good = std::fs::read(&path).unwrap();
            let bad_path = dir.join("bad.djv");
            let mut state = 0x9E37_79B9u64;
            for _ in 0..1000 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let mut bytes = good.clone();
                let pos = HEADER + (state >> 33) as usize % (bytes.len() - HEADER);
                bytes[pos] ^= 1 << ((state >> 20) % 8);
                reseal(&mut bytes);
                std::fs::write(&bad_path, &bytes).unwrap();
                for mmap in [false, true] {
                    if let Ok(loaded) = load(&bad_path, mmap) {
                        for ns in [DEFAULT_NAMESPACE, "other"] {
                            let _ = loaded.search(ns, &[0.1, 0.2, 0.3, 0.4], 5, None, None);
                        }
                        let _ = loaded.add(DEFAULT_NAMESPACE, &[999], &[0.5, 0.5, 0.5, 0.5], None);
                        let _ = loaded.remove(DEFAULT_NAMESPACE, &[1, 2]);
                    }
                }
            }
            for cut in (0..good.len()).step_by(7) {
                std::fs::write(&bad_path, &good[..cut]).unwrap();
                assert!(load(&bad_path, false).is_err());
            }
            // Cut or extended, with the header's payload length and checksums made to match, so
            // only the structural checks stand between the loader and the missing bytes.
            for len in (HEADER..good.len() + 64).step_by(5) {
                let mut bytes = good[..len.min(good.len())].to_vec();
                bytes.resize(len, 0xA5);
                bytes[40..48].copy_from_slice(&((len - HEADER) as u64).to_le_bytes());
                reseal(&mut bytes);
                std::fs::write(&bad_path, &bytes).unwrap();
                for mmap in [false, true] {
                    if let Ok(loaded) = load(&bad_path, mmap) {
                        let _ =
                            loaded.search(DEFAULT_NAMESPACE, &[0.1, 0.2, 0.3, 0.4], 5, None, None);
                    }
                }
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Issue 15 item 12: a mapped file rewritten or truncated in place is refused, not read.
    #[test]
    fn a_mapped_file_changed_in_place_is_an_error() {
        let dir = std::env::temp_dir().join(format!("dejacache-mapped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = Config {
            dim: 4,
            metric: Metric::L2,
            kind: Kind::Hnsw,
            dtype: Dtype::F32,
            m: 4,
            ef_construction: 16,
            ef_search: 16,
        };
        let build = |seed: u64| {
            let index = VectorIndex::new(cfg).unwrap();
            let ids: Vec<u64> = (0..50).collect();
            let data: Vec<f32> = (0..200)
                .map(|i| (((i + seed) * 37) % 101) as f32 / 50.0 - 1.0)
                .collect();
            index.add(DEFAULT_NAMESPACE, &ids, &data, None).unwrap();
            index
        };
        let path = dir.join("a.djv");
        let other = dir.join("b.djv");
        save(&build(0), &path).unwrap();
        save(&build(7), &other).unwrap();
        let q = [0.1, 0.2, 0.3, 0.4];
        for change in ["rewrite", "truncate"] {
            save(&build(0), &path).unwrap();
            let loaded = load(&path, true).unwrap();
            assert!(loaded.search(DEFAULT_NAMESPACE, &q, 3, None, None).is_ok());
            // Past the file system's timestamp granularity, so a same-size rewrite is seen too.
            std::thread::sleep(std::time::Duration::from_millis(20));
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            match change {
                "rewrite" => std::fs::write(&path, std::fs::read(&other).unwrap()).unwrap(),
                _ => f.set_len(HEADER as u64).unwrap(),
            }
            let Err(err) = loaded.search(DEFAULT_NAMESPACE, &q, 3, None, None) else {
                panic!("{change}: a search of the changed file succeeded")
            };
            assert!(
                err.to_string().contains("changed in place"),
                "{change}: {err}"
            );
            assert!(loaded.add(DEFAULT_NAMESPACE, &[99], &q, None).is_err());
            assert!(loaded.check_mapped().is_err());
            assert!(save(&loaded, &dir.join("c.djv")).is_err());
        }
        // Replaced by rename (as save does), the mapped index keeps serving the old inode.
        save(&build(0), &path).unwrap();
        let loaded = load(&path, true).unwrap();
        save(&build(7), &path).unwrap();
        assert!(loaded.search(DEFAULT_NAMESPACE, &q, 3, None, None).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
