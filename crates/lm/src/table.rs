//! Hash tables holding `(log10 prob, log10 backoff)` per n-gram key, and the
//! compact binary file format.
//!
//! # Binary format (version 1, all integers/floats little-endian)
//!
//! ```text
//! offset  size  field
//! 0       8     magic  b"SVLBNGRM"
//! 8       4     version (u32) = 1
//! 12      4     order N (u32), 1..=MAX_ORDER
//! 16      48*N  one table header per order k = 1..N:
//!                 count   u64  number of n-grams stored
//!                 len     u64  number of u64 slots in the table (>= cap + 1)
//!                 cap     u64  hash range: home slot = ((key & 0xffff_ffff) * cap) >> 32
//!                 p_min   f32  \ log10 prob = p_min + qp * p_step
//!                 p_step  f32  /
//!                 b_min   f32  \ log10 backoff = b_min + qb * b_step
//!                 b_step  f32  /
//!                 offset  u64  byte offset of the slot array (64-byte aligned)
//! ...           slot arrays: `len` u64 each. A slot is 0 when empty, else
//!                 (fp << 32) | (qp << 16) | qb
//!               with fp = (key >> 32) as u32 (0 is replaced by 1), qp/qb the
//!               16-bit quantised prob/backoff.
//! ```
//!
//! Lookup is linear probing from the home slot, never wrapping: the writer
//! appends overflow slots after `cap` so that every probe run ends on an empty
//! slot before `len`. `key` is the 64-bit n-gram key: [`super::tokenize::word_hash`]
//! of the last word, extended leftwards with [`super::tokenize::extend_left`].
//! No word strings are stored: the file can score text but cannot be turned
//! back into ARPA. Keys are compared through a 32-bit fingerprint plus the
//! home slot, so a false hit needs a 32-bit fingerprint collision within one
//! probe run (about 1e-9 per absent lookup).
//!
//! Quantisation is linear per order over the observed range (values below
//! -90, i.e. the `-99` of `<s>`, are clamped to the minimum); the error is at
//! most half a step, e.g. ~6e-5 log10 units for a 8-unit range.

use super::LmError;
use std::io::Write;

/// File magic.
pub(crate) const MAGIC: &[u8; 8] = b"SVLBNGRM";
/// Format version.
pub(crate) const VERSION: u32 = 1;
/// Largest supported order.
pub const MAX_ORDER: usize = 8;
const HEADER_ENTRY: usize = 48;
/// Target load factor of the packed tables.
const LOAD: f64 = 0.7;

/// Something mapping an n-gram key to `(log10 prob, log10 backoff)`.
pub(crate) trait Lookup {
    fn get(&self, key: u64) -> Option<(f32, f32)>;
    /// Hint the CPU to fetch the cache line `get(key)` will read first.
    fn prefetch(&self, key: u64);
}

#[inline(always)]
fn prefetch_ptr<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch is a hint; it never faults, even on invalid addresses.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

// ---------------------------------------------------------------- packed

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Quant {
    pub min: f32,
    pub step: f32,
}

impl Quant {
    fn fit(vals: impl Iterator<Item = f32>) -> Quant {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for v in vals {
            if v > -90.0 {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if !lo.is_finite() {
            return Quant { min: 0.0, step: 0.0 };
        }
        Quant { min: lo, step: (hi - lo) / 65535.0 }
    }
    #[inline(always)]
    fn enc(&self, v: f32) -> u64 {
        if self.step == 0.0 {
            return 0;
        }
        (((v - self.min) / self.step).round().clamp(0.0, 65535.0)) as u64
    }
    #[inline(always)]
    fn dec(&self, q: u64) -> f32 {
        self.min + q as f32 * self.step
    }
}

/// Read-only view of one packed table (borrowed from a mmap or a Vec).
#[derive(Clone, Copy)]
pub(crate) struct PackedView<'a> {
    pub slots: &'a [u64],
    pub cap: u64,
    pub qp: Quant,
    pub qb: Quant,
}

impl Default for PackedView<'_> {
    fn default() -> Self {
        PackedView { slots: &[0], cap: 1, qp: Quant::default(), qb: Quant::default() }
    }
}

#[inline(always)]
fn home(key: u64, cap: u64) -> usize {
    (((key & 0xffff_ffff) * cap) >> 32) as usize
}

#[inline(always)]
fn fingerprint(key: u64) -> u64 {
    let fp = key >> 32;
    if fp == 0 {
        1
    } else {
        fp
    }
}

impl Lookup for PackedView<'_> {
    #[inline(always)]
    fn prefetch(&self, key: u64) {
        prefetch_ptr(self.slots.as_ptr().wrapping_add(home(key, self.cap)));
    }
    #[inline(always)]
    fn get(&self, key: u64) -> Option<(f32, f32)> {
        let fp = fingerprint(key);
        let mut i = home(key, self.cap);
        loop {
            // `len > cap` and the last probe run ends on an empty slot (writer invariant,
            // checked on load), so `i` stays in bounds; `get` keeps it safe regardless.
            let e = *self.slots.get(i)?;
            if e == 0 {
                return None;
            }
            if e >> 32 == fp {
                return Some((self.qp.dec((e >> 16) & 0xffff), self.qb.dec(e & 0xffff)));
            }
            i += 1;
        }
    }
}

/// Build packed slots for one order from `(key, prob, backoff)` triples.
pub(crate) struct PackedBuilt {
    pub slots: Vec<u64>,
    pub cap: u64,
    pub count: u64,
    pub qp: Quant,
    pub qb: Quant,
}

pub(crate) fn build_packed(entries: &[(u64, f32, f32)]) -> PackedBuilt {
    let n = entries.len();
    let cap = ((n as f64 / LOAD).ceil() as u64).max(1);
    let qp = Quant::fit(entries.iter().map(|e| e.1));
    let qb = Quant::fit(entries.iter().map(|e| e.2));
    let mut slots = vec![0u64; cap as usize + 1];
    for &(key, p, b) in entries {
        let fp = fingerprint(key);
        let mut i = home(key, cap);
        loop {
            if i + 1 >= slots.len() {
                slots.push(0);
            }
            if slots[i] == 0 {
                slots[i] = (fp << 32) | (qp.enc(p) << 16) | qb.enc(b);
                break;
            }
            // Duplicate fingerprint in the same run: the first one wins on lookup.
            i += 1;
        }
    }
    if *slots.last().unwrap_or(&1) != 0 {
        slots.push(0);
    }
    PackedBuilt { slots, cap, count: n as u64, qp, qb }
}

/// Write a binary model from per-order packed tables.
pub(crate) fn write_binary(path: &std::path::Path, tables: &[PackedBuilt]) -> Result<u64, LmError> {
    let order = tables.len();
    if order == 0 || order > MAX_ORDER {
        return Err(LmError::Format(format!("order {order} out of range")));
    }
    let mut header = Vec::with_capacity(16 + HEADER_ENTRY * order);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&(order as u32).to_le_bytes());
    let mut off = align64(16 + HEADER_ENTRY * order);
    let mut offsets = Vec::new();
    for t in tables {
        offsets.push(off);
        header.extend_from_slice(&t.count.to_le_bytes());
        header.extend_from_slice(&(t.slots.len() as u64).to_le_bytes());
        header.extend_from_slice(&t.cap.to_le_bytes());
        for f in [t.qp.min, t.qp.step, t.qb.min, t.qb.step] {
            header.extend_from_slice(&f.to_le_bytes());
        }
        header.extend_from_slice(&(off as u64).to_le_bytes());
        off = align64(off + 8 * t.slots.len());
    }
    let tmp = path.with_extension("tmp~");
    let f = std::fs::File::create(&tmp)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    w.write_all(&header)?;
    let mut pos = header.len();
    for (t, &o) in tables.iter().zip(&offsets) {
        w.write_all(&vec![0u8; o - pos])?;
        let mut buf = Vec::with_capacity(t.slots.len() * 8);
        for s in &t.slots {
            buf.extend_from_slice(&s.to_le_bytes());
        }
        w.write_all(&buf)?;
        pos = o + buf.len();
    }
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, path)?;
    Ok(pos as u64)
}

fn align64(x: usize) -> usize {
    (x + 63) & !63
}

/// Parsed header of one order's table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableHeader {
    pub count: u64,
    pub len: u64,
    pub cap: u64,
    pub qp: Quant,
    pub qb: Quant,
    pub offset: u64,
}

/// Validate and parse the binary header.
pub(crate) fn parse_header(data: &[u8]) -> Result<Vec<TableHeader>, LmError> {
    let bad = |m: &str| LmError::Format(format!("binary model: {m}"));
    if data.len() < 16 || &data[..8] != MAGIC {
        return Err(bad("bad magic"));
    }
    let u32_at = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap());
    let version = u32_at(8);
    if version != VERSION {
        return Err(bad(&format!("unsupported version {version}")));
    }
    let order = u32_at(12) as usize;
    if order == 0 || order > MAX_ORDER || data.len() < 16 + HEADER_ENTRY * order {
        return Err(bad("bad order / truncated header"));
    }
    let u64_at = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().unwrap());
    let f32_at = |o: usize| f32::from_le_bytes(data[o..o + 4].try_into().unwrap());
    let mut out = Vec::with_capacity(order);
    for k in 0..order {
        let b = 16 + HEADER_ENTRY * k;
        let h = TableHeader {
            count: u64_at(b),
            len: u64_at(b + 8),
            cap: u64_at(b + 16),
            qp: Quant { min: f32_at(b + 24), step: f32_at(b + 28) },
            qb: Quant { min: f32_at(b + 32), step: f32_at(b + 36) },
            offset: u64_at(b + 40),
        };
        let end = h.len.checked_mul(8).and_then(|l| l.checked_add(h.offset));
        if !h.offset.is_multiple_of(8)
            || h.cap == 0
            || h.cap > u32::MAX as u64
            || h.len <= h.cap
            || end.is_none_or(|e| e > data.len() as u64)
        {
            return Err(bad(&format!("bad table header for order {}", k + 1)));
        }
        out.push(h);
    }
    Ok(out)
}

/// View `len` u64 slots at `offset` of a (page-aligned) byte buffer.
pub(crate) fn slots_at<'a>(data: &'a [u8], h: &TableHeader) -> &'a [u64] {
    let bytes = &data[h.offset as usize..(h.offset + h.len * 8) as usize];
    // SAFETY: any bit pattern is a valid u64; `align_to` only yields a middle
    // slice that is correctly aligned. The mmap base is page aligned and
    // offsets are multiples of 64, so prefix/suffix are empty (checked below).
    let (pre, mid, post) = unsafe { bytes.align_to::<u64>() };
    debug_assert!(pre.is_empty() && post.is_empty());
    if !pre.is_empty() {
        return &[0];
    }
    mid
}

// ---------------------------------------------------------------- exact

#[derive(Clone, Copy, Default)]
struct ExactSlot {
    key: u64,
    p: f32,
    b: f32,
}

/// Unquantised open-addressing table (used for ARPA-loaded / in-memory models).
pub(crate) struct ExactTable {
    slots: Vec<ExactSlot>,
    mask: usize,
    count: usize,
}

impl ExactTable {
    pub fn with_capacity(n: usize) -> Self {
        let cap = (n * 2).next_power_of_two().max(4);
        ExactTable { slots: vec![ExactSlot::default(); cap], mask: cap - 1, count: 0 }
    }
    /// Insert or overwrite.
    pub fn insert(&mut self, key: u64, p: f32, b: f32) {
        if (self.count + 1) * 2 > self.slots.len() {
            let old = std::mem::take(&mut self.slots);
            *self = ExactTable::with_capacity(old.len());
            for s in old.into_iter().filter(|s| s.key != 0) {
                self.insert(s.key, s.p, s.b);
            }
        }
        let mut i = (key >> 1) as usize & self.mask;
        loop {
            let s = &mut self.slots[i];
            if s.key == 0 {
                *s = ExactSlot { key, p, b };
                self.count += 1;
                return;
            }
            if s.key == key {
                s.p = p;
                s.b = b;
                return;
            }
            i = (i + 1) & self.mask;
        }
    }
    pub fn len(&self) -> usize {
        self.count
    }
    pub fn bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<ExactSlot>()
    }
}

impl Lookup for ExactTable {
    #[inline(always)]
    fn prefetch(&self, key: u64) {
        prefetch_ptr(self.slots.as_ptr().wrapping_add((key >> 1) as usize & self.mask));
    }
    #[inline(always)]
    fn get(&self, key: u64) -> Option<(f32, f32)> {
        let mut i = (key >> 1) as usize & self.mask;
        loop {
            let s = &self.slots[i];
            if s.key == key {
                return Some((s.p, s.b));
            }
            if s.key == 0 {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }
}
