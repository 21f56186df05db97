//! NumPy `.npy` files: reading the dtypes `eval` accepts and writing results, with a small
//! bounded reader of our own (no general-purpose parser ever sees a file's header).
//!
//! Reading is strict and bounded: the fixed preamble first, then the header (at most
//! [`MAX_HEADER_LEN`] bytes, NumPy's own default limit), parsed by a linear scanner that accepts
//! exactly the dict NumPy writes — the three keys `descr`, `fortran_order` and `shape`, each
//! once, nothing else — then exactly the number of data bytes the header declares. A file
//! whose size disagrees with its header is refused before its data is read, so `/dev/zero` or
//! a huge file costs a few bytes of reading, not memory. Little-endian, C order, and one of
//! float16 (`<f2`), bfloat16 (`<V2`, how `ml_dtypes`/JAX save it), float32, float64, int32,
//! int64, uint8 or bool. Anything else is refused with a message saying what the file holds
//! and how to re-save it, never converted silently.
//!
//! Writing goes through [`Staged`]: the file is first written next to its destination under a
//! hidden temporary name and only renamed into place by [`commit_all`], so a failed run
//! leaves no half-written output behind.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use losskit::{ArrayData, FloatArray};

/// The first bytes of every `.npy` file.
const MAGIC: &[u8] = b"\x93NUMPY";

/// The longest header read, in bytes: NumPy's `max_header_size` default (larger headers need
/// `allow_pickle` there, and are refused here).
pub const MAX_HEADER_LEN: usize = 10_000;

/// The most data bytes allocated before they have actually arrived (a pipe declaring a huge
/// shape grows the buffer only as its bytes come in).
const MAX_PREALLOC: u128 = 1 << 26;

/// An array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// The dimensions (empty for a 0-d array).
    pub dims: Vec<usize>,
    /// The elements, row-major.
    pub data: Data,
}

/// The elements of an [`Array`], in the dtype of the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// `<f4`.
    F32(Vec<f32>),
    /// `<f8`.
    F64(Vec<f64>),
    /// `<i4`.
    I32(Vec<i32>),
    /// `<i8`.
    I64(Vec<i64>),
    /// `|u1`.
    U8(Vec<u8>),
    /// `|b1`.
    Bool(Vec<bool>),
    /// `<f2`.
    F16(Vec<f16>),
    /// `<V2`, read as bfloat16.
    BF16(Vec<bf16>),
}

impl Array {
    /// The elements as the core's borrowed array type.
    pub fn data(&self) -> ArrayData<'_> {
        match &self.data {
            Data::F32(v) => ArrayData::F32(v),
            Data::F64(v) => ArrayData::F64(v),
            Data::I32(v) => ArrayData::I32(v),
            Data::I64(v) => ArrayData::I64(v),
            Data::U8(v) => ArrayData::U8(v),
            Data::Bool(v) => ArrayData::Bool(v),
            Data::F16(v) => ArrayData::F16(v),
            Data::BF16(v) => ArrayData::BF16(v),
        }
    }
}

/// Why a file could not be read. The `Display` text is one line, a clause meant to follow
/// "cannot read … from FILE: ".
#[derive(Debug)]
pub enum ReadError {
    /// The file could not be opened or read.
    Io(io::Error),
    /// The file does not start with the `.npy` magic string.
    NotNpy,
    /// The preamble, header or data is not what NumPy writes.
    Malformed(String),
    /// A header longer than [`MAX_HEADER_LEN`].
    HeaderTooLong(u64),
    /// A dtype losskit does not read.
    Dtype(String),
    /// A big-endian dtype.
    BigEndian(String),
    /// Fortran (column-major) order.
    Fortran,
    /// Fewer data bytes than the header's shape needs.
    Truncated {
        /// The shape the header declares.
        dims: Vec<usize>,
        /// The dtype, e.g. `<f4`.
        dtype: String,
        /// Bytes the shape needs.
        needed: u128,
        /// Bytes present after the header.
        present: u128,
    },
    /// More data bytes than the header's shape needs.
    Trailing {
        /// The shape the header declares.
        dims: Vec<usize>,
        /// The dtype, e.g. `<f4`.
        dtype: String,
        /// Bytes the shape needs.
        needed: u128,
        /// Bytes present after the header (at least).
        present: u128,
    },
    /// A shape whose element count does not fit in memory addresses.
    TooLarge(Vec<u64>),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::NotNpy => f.write_str("not a .npy file (it does not start with the NumPy magic string)"),
            ReadError::Malformed(m) => write!(f, "malformed .npy file: {m}"),
            ReadError::HeaderTooLong(n) => write!(
                f,
                "malformed .npy file: its header is {n} bytes long, more than NumPy's limit of {MAX_HEADER_LEN}"
            ),
            ReadError::Dtype(d) => write!(
                f,
                "dtype `{d}` is not supported; .npy inputs must be float16, bfloat16, float32, float64, int32, int64, uint8 or bool"
            ),
            ReadError::BigEndian(d) => write!(
                f,
                "dtype `{d}` is big-endian; save it little-endian, e.g. `np.save(path, arr.astype(arr.dtype.newbyteorder('<')))`"
            ),
            ReadError::Fortran => f.write_str(
                "the array is stored in Fortran order; save it in C order, e.g. `np.save(path, np.ascontiguousarray(arr))`",
            ),
            ReadError::Truncated { dims, dtype, needed, present } => write!(
                f,
                "the file is truncated: its header declares shape {dims:?} of `{dtype}` ({needed} bytes of data) but {present} bytes follow the header"
            ),
            ReadError::Trailing { dims, dtype, needed, present } => write!(
                f,
                "the file is longer than its header says: shape {dims:?} of `{dtype}` is {needed} bytes of data but {present} bytes follow the header"
            ),
            ReadError::TooLarge(dims) => {
                let dims: Vec<String> = dims.iter().map(u64::to_string).collect();
                write!(f, "the shape [{}] has more elements than this machine can address", dims.join(", "))
            }
        }
    }
}

/// The dtypes read.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    F32,
    F64,
    I32,
    I64,
    U8,
    Bool,
    F16,
    BF16,
}

impl Kind {
    /// The kind of a `descr` string, or the error to report.
    fn of(descr: &str) -> Result<Kind, ReadError> {
        let (order, code) = match descr.as_bytes().first() {
            Some(b'<' | b'>' | b'|' | b'=') => descr.split_at(1),
            _ => ("", descr),
        };
        let kind = match code {
            "f4" => Kind::F32,
            "f8" => Kind::F64,
            "i4" => Kind::I32,
            "i8" => Kind::I64,
            "u1" => Kind::U8,
            "b1" => Kind::Bool,
            "f2" => Kind::F16,
            "V2" => Kind::BF16,
            _ => return Err(ReadError::Dtype(descr.to_owned())),
        };
        // One-byte types have no byte order; `=` is native, little-endian on every target
        // losskit builds for (checked below).
        let big = order == ">" || (order == "=" && cfg!(target_endian = "big"));
        if big && kind.item_size() > 1 {
            return Err(ReadError::BigEndian(descr.to_owned()));
        }
        Ok(kind)
    }

    fn item_size(self) -> u128 {
        match self {
            Kind::F32 | Kind::I32 => 4,
            Kind::F64 | Kind::I64 => 8,
            Kind::U8 | Kind::Bool => 1,
            Kind::F16 | Kind::BF16 => 2,
        }
    }
}

/// What a `.npy` header says.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The dtype string, e.g. `<f4`.
    pub descr: String,
    /// Whether the data is in Fortran order.
    pub fortran_order: bool,
    /// The dimensions as written.
    pub shape: Vec<u64>,
}

/// Parses the header dict of a `.npy` file: `{'descr': '<f4', 'fortran_order': False,
/// 'shape': (2, 3), }` and the spellings NumPy accepts for it (either quote, any key order,
/// optional trailing commas, whitespace), nothing more: exactly the three keys, each once; a
/// string `descr` (a structured dtype's list is refused as unsupported); `True`/`False`; a
/// tuple of at most 64 non-negative integers. One left-to-right pass with no recursion, so the
/// work is linear in the header's length whatever it holds.
///
/// # Errors
/// A one-line description of the first thing that is not so, with its byte offset.
pub fn parse_header(text: &[u8]) -> Result<Header, String> {
    let mut p = Scanner { s: text, i: 0 };
    p.expect(b'{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let key_at = p.i;
        let key = p.string()?;
        p.skip_ws();
        p.expect(b':')?;
        p.skip_ws();
        let dup = |k: &str| format!("key '{k}' appears twice in the header dict");
        match key.as_str() {
            "descr" => {
                if descr.is_some() {
                    return Err(dup("descr"));
                }
                if matches!(p.peek(), Some(b'[' | b'(' | b'{')) {
                    return Err(
                        "structured dtypes (a list as 'descr') are not supported".to_owned()
                    );
                }
                descr = Some(p.string()?);
            }
            "fortran_order" => {
                if fortran.is_some() {
                    return Err(dup("fortran_order"));
                }
                fortran = Some(p.boolean()?);
            }
            "shape" => {
                if shape.is_some() {
                    return Err(dup("shape"));
                }
                shape = Some(p.tuple()?);
            }
            _ => {
                return Err(format!(
                    "unexpected key {} at byte {key_at} of the header dict (NumPy writes exactly 'descr', 'fortran_order' and 'shape')",
                    printable(&key)
                ))
            }
        }
        p.skip_ws();
        if p.eat(b',') {
            continue;
        }
        p.skip_ws();
        p.expect(b'}')?;
        break;
    }
    p.skip_ws();
    if p.i != text.len() {
        return Err(format!(
            "unexpected {} at byte {} after the header dict",
            p.what(),
            p.i
        ));
    }
    let missing = |k: &str| format!("the header dict has no '{k}' key");
    Ok(Header {
        descr: descr.ok_or_else(|| missing("descr"))?,
        fortran_order: fortran.ok_or_else(|| missing("fortran_order"))?,
        shape: shape.ok_or_else(|| missing("shape"))?,
    })
}

/// A string for a message: at most 40 characters, control characters escaped, on one line.
fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(40).flat_map(char::escape_debug).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    format!("'{out}'")
}

/// The most dimensions a header may declare (NumPy's `NPY_MAXDIMS`).
const MAX_HEADER_DIMS: usize = 64;

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// What stands at the cursor, for a message.
    fn what(&self) -> String {
        match self.peek() {
            None => "end of header".to_owned(),
            Some(c) if c.is_ascii_graphic() => format!("'{}'", c as char),
            Some(c) => format!("byte 0x{c:02x}"),
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "expected '{}' at byte {} of the header dict, found {}",
                c as char,
                self.i,
                self.what()
            ))
        }
    }

    /// A quoted string without escapes (no key or dtype NumPy writes has one).
    fn string(&mut self) -> Result<String, String> {
        let start = self.i;
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(format!(
                    "expected a quoted string at byte {start} of the header dict, found {}",
                    self.what()
                ))
            }
        };
        self.i += 1;
        let body = self.i;
        while let Some(c) = self.peek() {
            if c == quote {
                let text = std::str::from_utf8(&self.s[body..self.i])
                    .map_err(|_| format!("the string at byte {start} is not valid UTF-8"))?;
                self.i += 1;
                return Ok(text.to_owned());
            }
            if c == b'\\' || c == b'\n' {
                return Err(format!(
                    "unsupported character in the string at byte {start} of the header dict"
                ));
            }
            self.i += 1;
        }
        Err(format!(
            "unterminated string at byte {start} of the header dict"
        ))
    }

    fn boolean(&mut self) -> Result<bool, String> {
        for (word, v) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.s[self.i..].starts_with(word) {
                self.i += word.len();
                return Ok(v);
            }
        }
        Err(format!(
            "expected True or False for 'fortran_order' at byte {}, found {}",
            self.i,
            self.what()
        ))
    }

    /// `()`, `(3,)`, `(2, 3)`, `(2, 3,)`; Python 2's `3L` too.
    fn tuple(&mut self) -> Result<Vec<u64>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                break;
            }
            let start = self.i;
            let mut n: u64 = 0;
            while let Some(c @ b'0'..=b'9') = self.peek() {
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(c - b'0')))
                    .ok_or_else(|| {
                        format!("the dimension at byte {start} of the header dict is too large")
                    })?;
                self.i += 1;
            }
            if self.i == start {
                return Err(format!(
                    "expected a non-negative integer dimension at byte {start} of the header dict, found {}",
                    self.what()
                ));
            }
            self.eat(b'L');
            dims.push(n);
            if dims.len() > MAX_HEADER_DIMS {
                return Err(format!(
                    "the shape has more than {MAX_HEADER_DIMS} dimensions"
                ));
            }
            self.skip_ws();
            if self.eat(b',') {
                continue;
            }
            self.skip_ws();
            self.expect(b')')?;
            break;
        }
        // `(3)` is the integer 3 in Python, not a tuple: NumPy never writes it.
        Ok(dims)
    }
}

/// Reads a `.npy` file: its preamble and header first, then exactly the data the header
/// declares (a regular file whose size disagrees is refused before its data is read).
///
/// # Errors
/// A [`ReadError`] for an unreadable or malformed file, an unsupported or big-endian dtype,
/// Fortran order, or a data size that disagrees with the header.
pub fn read(path: &Path) -> Result<Array, ReadError> {
    let file = File::open(path).map_err(ReadError::Io)?;
    let size = file
        .metadata()
        .ok()
        .filter(fs::Metadata::is_file)
        .map(|m| m.len());
    read_from(file, size)
}

/// Reads a `.npy` array from `r`; `size`, when known, is the total length of the stream and
/// lets a size that disagrees with the header be refused before any data is read.
///
/// # Errors
/// As for [`read`].
pub fn read_from<R: Read>(mut r: R, size: Option<u64>) -> Result<Array, ReadError> {
    let mut pre = [0u8; 8];
    let got = read_up_to(&mut r, &mut pre)?;
    if got < MAGIC.len() || &pre[..MAGIC.len()] != MAGIC {
        return Err(ReadError::NotNpy);
    }
    if got < pre.len() {
        return Err(ReadError::Malformed(
            "the file ends inside its preamble".to_owned(),
        ));
    }
    let (major, minor) = (pre[6], pre[7]);
    let len_bytes = match major {
        1 => 2,
        2 | 3 => 4,
        _ => {
            return Err(ReadError::Malformed(format!(
                "format version {major}.{minor} is not one NumPy writes (1.0, 2.0 or 3.0)"
            )))
        }
    };
    let mut len = [0u8; 4];
    if read_up_to(&mut r, &mut len[..len_bytes])? < len_bytes {
        return Err(ReadError::Malformed(
            "the file ends inside its preamble".to_owned(),
        ));
    }
    let header_len = u64::from(u32::from_le_bytes(len));
    if header_len > MAX_HEADER_LEN as u64 {
        return Err(ReadError::HeaderTooLong(header_len));
    }
    let mut text = vec![0u8; header_len as usize];
    if read_up_to(&mut r, &mut text)? < text.len() {
        return Err(ReadError::Malformed(format!(
            "the file ends inside its {header_len}-byte header"
        )));
    }
    if major < 3 && !text.is_ascii() {
        // Versions 1 and 2 are latin-1; NumPy itself only ever writes ASCII there.
        return Err(ReadError::Malformed(
            "the header holds non-ASCII bytes".to_owned(),
        ));
    }
    let header = parse_header(&text).map_err(ReadError::Malformed)?;
    let kind = Kind::of(&header.descr)?;
    let too_large = || ReadError::TooLarge(header.shape.clone());
    let dims = header
        .shape
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(too_large)?;
    let numel = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(too_large)?;
    // A Fortran-order array of at most one dimension is laid out as in C order, and NumPy
    // never writes one; still, refuse only when the order changes the meaning.
    if header.fortran_order && dims.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(ReadError::Fortran);
    }
    let needed = numel as u128 * kind.item_size();
    let offset = (8 + len_bytes) as u128 + u128::from(header_len);
    let mismatch = |present: u128| {
        let (dims, dtype) = (dims.clone(), header.descr.clone());
        if present < needed {
            ReadError::Truncated {
                dims,
                dtype,
                needed,
                present,
            }
        } else {
            ReadError::Trailing {
                dims,
                dtype,
                needed,
                present,
            }
        }
    };
    if let Some(size) = size {
        let present = u128::from(size).saturating_sub(offset);
        if present != needed {
            return Err(mismatch(present));
        }
    }
    // `needed` fits in memory: on a 64-bit target numel * 8 may still overflow usize.
    let needed_usize = usize::try_from(needed).map_err(|_| too_large())?;
    let mut bytes = Vec::with_capacity(needed.min(MAX_PREALLOC) as usize);
    r.by_ref()
        .take(needed as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() != needed_usize {
        return Err(mismatch(bytes.len() as u128));
    }
    decode(kind, &bytes).map(|data| Array { dims, data })
}

/// Reads until `buf` is full or the stream ends; the number of bytes read.
fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize, ReadError> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    Ok(n)
}

fn decode(kind: Kind, bytes: &[u8]) -> Result<Data, ReadError> {
    fn le<const N: usize, T>(bytes: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
        bytes
            .chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunks of N bytes")))
            .collect()
    }
    Ok(match kind {
        Kind::F32 => Data::F32(le(bytes, f32::from_le_bytes)),
        Kind::F64 => Data::F64(le(bytes, f64::from_le_bytes)),
        Kind::I32 => Data::I32(le(bytes, i32::from_le_bytes)),
        Kind::I64 => Data::I64(le(bytes, i64::from_le_bytes)),
        Kind::F16 => Data::F16(le(bytes, f16::from_le_bytes)),
        Kind::BF16 => Data::BF16(le(bytes, bf16::from_le_bytes)),
        Kind::U8 => Data::U8(bytes.to_vec()),
        Kind::Bool => Data::Bool(
            bytes
                .iter()
                .map(|&b| match b {
                    0 => Ok(false),
                    1 => Ok(true),
                    b => Err(ReadError::Malformed(format!("invalid value for bool: {b}"))),
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// The bytes of a little-endian, C-order `.npy` file (format 1.0) holding `data` with shape
/// `dims`: `<f4`, `<f8`, `<f2`, or `<V2` for bfloat16 (as `ml_dtypes` writes it).
pub fn encode(dims: &[usize], data: &FloatArray) -> io::Result<Vec<u8>> {
    let (descr, body): (&str, Vec<u8>) = match data {
        FloatArray::F32(v) => ("<f4", v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        FloatArray::F64(v) => ("<f8", v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        FloatArray::F16(v) => ("<f2", v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        FloatArray::BF16(v) => ("<V2", v.iter().flat_map(|x| x.to_le_bytes()).collect()),
    };
    let shape = match dims {
        [] => "()".to_owned(),
        [n] => format!("({n},)"),
        _ => {
            let d: Vec<String> = dims.iter().map(usize::to_string).collect();
            format!("({})", d.join(", "))
        }
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // NumPy pads the header with spaces and a newline so the data starts 64-byte aligned.
    while (MAGIC.len() + 4 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let len = u16::try_from(header.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the header is too long"))?;
    let mut bytes = Vec::with_capacity(MAGIC.len() + 4 + header.len() + body.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend([1, 0]);
    bytes.extend(len.to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(body);
    Ok(bytes)
}

/// An output written under a temporary name beside its destination, not yet in place.
///
/// Dropping it without [`commit_all`] removes the temporary file.
#[derive(Debug)]
pub struct Staged {
    temp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

/// A hidden name beside `dest`: `.NAME.losskit-PID.SUFFIX`.
fn beside(dest: &Path, suffix: &str) -> io::Result<PathBuf> {
    let name = dest
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "it has no file name"))?;
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".losskit-{}.{suffix}", std::process::id()));
    Ok(dir.join(temp_name))
}

impl Staged {
    /// Writes `bytes` to a new hidden file in `dest`'s directory.
    ///
    /// # Errors
    /// When `dest` is a directory, ends in `/`, has no file name or exists as something other
    /// than a regular file or a symbolic link (a device such as `/dev/null`: replacing it
    /// would be wrong), or the directory is not writable.
    pub fn write(dest: &Path, bytes: &[u8]) -> io::Result<Staged> {
        let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidInput, m.to_owned());
        if dest.is_dir() {
            return Err(invalid("it is a directory"));
        }
        if dest.as_os_str().as_encoded_bytes().ends_with(b"/") {
            return Err(invalid("it ends in `/`, which names a directory"));
        }
        if let Ok(m) = fs::symlink_metadata(dest) {
            if !m.is_file() && !m.file_type().is_symlink() {
                return Err(invalid(
                    "it exists and is not a regular file (a device, pipe or socket)",
                ));
            }
        }
        let temp = beside(dest, "tmp")?;
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        let staged = Staged {
            temp,
            dest: dest.to_path_buf(),
            committed: false,
        };
        file.write_all(bytes)?;
        file.flush()?;
        Ok(staged)
    }

    /// Moves this one file into place ([`commit_all`] of one).
    ///
    /// # Errors
    /// When the rename fails (nothing has changed then).
    pub fn commit(self) -> io::Result<()> {
        commit_all(vec![self]).map_err(|(_, e)| e)
    }

    /// The destination.
    pub fn dest(&self) -> &Path {
        &self.dest
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Moves every staged file into place, or none: a destination that already exists is first
/// moved aside, and if any rename fails every file already moved in is taken out again and
/// what was there before restored. A destination that is a symbolic link is replaced by the
/// new file (the link's target is left untouched), as `mv` does.
///
/// # Errors
/// The index of the output whose rename failed, and why; nothing has changed then.
pub fn commit_all(mut staged: Vec<Staged>) -> Result<(), (usize, io::Error)> {
    // (moved-aside copy of the old destination, if any) per committed output.
    let mut done: Vec<(usize, Option<PathBuf>)> = Vec::new();
    let mut failure = None;
    for (i, s) in staged.iter_mut().enumerate() {
        let step = (|| {
            let backup = match fs::symlink_metadata(&s.dest) {
                Ok(_) => {
                    let b = beside(&s.dest, "old")?;
                    fs::rename(&s.dest, &b)?;
                    Some(b)
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            if let Err(e) = fs::rename(&s.temp, &s.dest) {
                if let Some(b) = &backup {
                    let _ = fs::rename(b, &s.dest);
                }
                return Err(e);
            }
            Ok(backup)
        })();
        match step {
            Ok(backup) => {
                s.committed = true;
                done.push((i, backup));
            }
            Err(e) => {
                failure = Some((i, e));
                break;
            }
        }
    }
    match failure {
        None => {
            for (_, backup) in done {
                if let Some(b) = backup {
                    let _ = fs::remove_file(b);
                }
            }
            Ok(())
        }
        Some(f) => {
            for (i, backup) in done.into_iter().rev() {
                let dest = &staged[i].dest;
                let _ = match backup {
                    Some(b) => fs::rename(b, dest),
                    None => fs::remove_file(dest),
                };
            }
            Err(f)
        }
    }
}

/// Whether `a` and `b` are the same existing file (symbolic links followed).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        #[cfg(unix)]
        (Ok(x), Ok(y)) => {
            use std::os::unix::fs::MetadataExt;
            x.dev() == y.dev() && x.ino() == y.ino()
        }
        #[cfg(not(unix))]
        (Ok(_), Ok(_)) => match (fs::canonicalize(a), fs::canonicalize(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut text = header.to_owned();
        while (MAGIC.len() + 4 + text.len() + 1) % 64 != 0 {
            text.push(' ');
        }
        text.push('\n');
        let mut bytes = MAGIC.to_vec();
        bytes.extend([1, 0]);
        bytes.extend((text.len() as u16).to_le_bytes());
        bytes.extend(text.as_bytes());
        bytes.extend(data);
        bytes
    }

    fn read_bytes(bytes: &[u8]) -> Result<Array, ReadError> {
        let dir = tempfile::tempdir().map_err(ReadError::Io)?;
        let path = dir.path().join("a.npy");
        fs::write(&path, bytes).map_err(ReadError::Io)?;
        read(&path)
    }

    #[test]
    fn round_trips_f32_and_f64_with_shape() {
        let a = FloatArray::F32(vec![1.5, -2.0, 0.25, 3.0, 4.0, 5.0]);
        let bytes = encode(&[2, 3], &a).unwrap();
        let back = read_bytes(&bytes).unwrap();
        assert_eq!(
            back,
            Array {
                dims: vec![2, 3],
                data: Data::F32(vec![1.5, -2.0, 0.25, 3.0, 4.0, 5.0])
            }
        );
        let b = FloatArray::F64(vec![0.1, 0.2]);
        let back = read_bytes(&encode(&[2, 1], &b).unwrap()).unwrap();
        assert_eq!(
            back,
            Array {
                dims: vec![2, 1],
                data: Data::F64(vec![0.1, 0.2])
            }
        );
        let back = read_bytes(&encode(&[], &FloatArray::F64(vec![7.0])).unwrap()).unwrap();
        assert_eq!(back.dims, Vec::<usize>::new());
    }

    #[test]
    fn reads_every_accepted_dtype() {
        let cases: [(&str, Vec<u8>, Data); 5] = [
            (
                "<i4",
                [-1i32, 7].iter().flat_map(|x| x.to_le_bytes()).collect(),
                Data::I32(vec![-1, 7]),
            ),
            (
                "<i8",
                [-1i64, 7].iter().flat_map(|x| x.to_le_bytes()).collect(),
                Data::I64(vec![-1, 7]),
            ),
            ("|u1", vec![255, 7], Data::U8(vec![255, 7])),
            ("|b1", vec![1, 0], Data::Bool(vec![true, false])),
            (
                "<f8",
                [0.5f64, 7.0].iter().flat_map(|x| x.to_le_bytes()).collect(),
                Data::F64(vec![0.5, 7.0]),
            ),
        ];
        for (descr, data, want) in cases {
            let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (2,), }}");
            let got = read_bytes(&npy(&header, &data)).unwrap();
            assert_eq!(got.data, want, "{descr}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_read_exactly() {
        let msg =
            |header: &str, data: &[u8]| read_bytes(&npy(header, data)).unwrap_err().to_string();
        assert_eq!(
            msg("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", &[0; 8]),
            "dtype `<c8` is not supported; .npy inputs must be float16, bfloat16, float32, float64, int32, int64, uint8 or bool"
        );
        assert_eq!(
            msg("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", &[0; 4]),
            "dtype `>f4` is big-endian; save it little-endian, e.g. `np.save(path, arr.astype(arr.dtype.newbyteorder('<')))`"
        );
        assert_eq!(
            msg("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", &[0; 16]),
            "the array is stored in Fortran order; save it in C order, e.g. `np.save(path, np.ascontiguousarray(arr))`"
        );
        assert_eq!(
            msg("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", &[0; 8]),
            "the file is truncated: its header declares shape [2, 2] of `<f4` (16 bytes of data) but 8 bytes follow the header"
        );
        assert_eq!(
            msg(
                "{'descr': '|b1', 'fortran_order': False, 'shape': (1,), }",
                &[2]
            ),
            "malformed .npy file: invalid value for bool: 2"
        );
        assert_eq!(
            msg("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", &[]),
            "the shape [4294967296, 4294967296, 4294967296] has more elements than this machine can address"
        );
        assert_eq!(
            read_bytes(b"hello").unwrap_err().to_string(),
            "not a .npy file (it does not start with the NumPy magic string)"
        );
        // A one-dimensional Fortran-order array is the same bytes as C order.
        let ok = read_bytes(&npy(
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
            &[0; 8],
        ));
        assert_eq!(ok.unwrap().data, Data::F32(vec![0.0, 0.0]));
    }

    #[test]
    fn nested_brackets_and_extra_keys_fail_at_once() {
        use std::time::Instant;
        for depth in [20, 1000, 4000] {
            for (open, close) in [("[", "]"), ("{1:", "}")] {
                let header = format!(
                    "{{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': {}0{}, }}",
                    open.repeat(depth),
                    close.repeat(depth)
                );
                let start = Instant::now();
                let m = read_bytes(&npy(&header, &[0; 4])).unwrap_err().to_string();
                assert!(start.elapsed().as_millis() < 500, "depth {depth}");
                assert!(m.starts_with("malformed .npy file: "), "{m}");
                assert!(!m.contains('\n'), "{m}");
            }
        }
        let m = read_bytes(&npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
            &[0; 4],
        ))
        .unwrap_err()
        .to_string();
        assert_eq!(m, "malformed .npy file: unexpected key 'extra' at byte 56 of the header dict (NumPy writes exactly 'descr', 'fortran_order' and 'shape')");
        let m = read_bytes(&npy(
            "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
            &[0; 4],
        ))
        .unwrap_err()
        .to_string();
        assert_eq!(
            m,
            "malformed .npy file: structured dtypes (a list as 'descr') are not supported"
        );
        let m = read_bytes(&npy(
            "{'descr': '<f4' 'fortran_order': False, 'shape': (1,), }",
            &[0; 4],
        ))
        .unwrap_err()
        .to_string();
        assert_eq!(
            m,
            "malformed .npy file: expected '}' at byte 16 of the header dict, found '''"
        );
        // Twice the same key, a missing key, a header over NumPy's limit.
        assert!(parse_header(
            b"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}"
        )
        .is_err());
        assert!(parse_header(b"{'descr': '<f4', 'shape': ()}").is_err());
        let mut long = MAGIC.to_vec();
        long.extend([2, 0]);
        long.extend(20_000u32.to_le_bytes());
        assert_eq!(
            read_bytes(&long).unwrap_err().to_string(),
            "malformed .npy file: its header is 20000 bytes long, more than NumPy's limit of 10000"
        );
        // What NumPy itself writes parses, with either quote and Python 2's `L`.
        let h =
            parse_header(b"{\"descr\": \"<f8\", \"shape\": (3L, 2), \"fortran_order\": False}  \n")
                .unwrap();
        assert_eq!(h.shape, vec![3, 2]);
    }

    #[test]
    fn a_size_that_disagrees_with_the_header_is_refused_before_reading() {
        let m = read_bytes(&npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
            &[0; 12],
        ))
        .unwrap_err()
        .to_string();
        assert_eq!(m, "the file is longer than its header says: shape [2] of `<f4` is 8 bytes of data but 12 bytes follow the header");
        // A stream (size unknown) that goes on past the data is refused too, after reading
        // one byte more than the data.
        let bytes = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
            &[0; 9],
        );
        assert!(matches!(
            read_from(bytes.as_slice(), None),
            Err(ReadError::Trailing { .. })
        ));
        // A header declaring 2^40 elements on a short file: refused from its size alone.
        let m = read_bytes(&npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }",
            &[0; 8],
        ))
        .unwrap_err()
        .to_string();
        assert!(m.starts_with("the file is truncated"), "{m}");
    }

    #[cfg(unix)]
    #[test]
    fn dev_zero_fails_at_once() {
        let m = read(Path::new("/dev/zero")).unwrap_err().to_string();
        assert_eq!(
            m,
            "not a .npy file (it does not start with the NumPy magic string)"
        );
        // An endless stream after a valid header is read only as far as the header declares.
        let mut head = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
            &[],
        );
        head.truncate(head.len());
        let endless = head.as_slice().chain(io::repeat(0));
        let a = read_from(endless, None);
        assert!(matches!(a, Err(ReadError::Trailing { .. })), "{a:?}");
    }

    #[test]
    fn half_precision_round_trips() {
        let h = FloatArray::F16(vec![f16::from_f32(1.5), f16::from_f32(-0.25)]);
        let back = read_bytes(&encode(&[2], &h).unwrap()).unwrap();
        assert_eq!(
            back.data,
            Data::F16(vec![f16::from_f32(1.5), f16::from_f32(-0.25)])
        );
        let b = FloatArray::BF16(vec![bf16::from_f32(1.0), bf16::from_f32(2.5)]);
        let bytes = encode(&[1, 2], &b).unwrap();
        // What `np.save` writes for an `ml_dtypes.bfloat16` array: `<V2`, these bytes.
        assert!(bytes.windows(5).any(|w| w == b"'<V2'"));
        assert!(bytes.ends_with(&[0x80, 0x3f, 0x20, 0x40]));
        assert_eq!(
            read_bytes(&bytes).unwrap().data,
            Data::BF16(vec![bf16::from_f32(1.0), bf16::from_f32(2.5)])
        );
    }

    #[test]
    fn staged_files_appear_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.npy");
        let staged = Staged::write(&dest, b"abc").unwrap();
        assert!(!dest.exists());
        commit_all(vec![staged]).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"abc");
        let dropped = Staged::write(&dir.path().join("never.npy"), b"x").unwrap();
        drop(dropped);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.npy")]);
        assert!(Staged::write(dir.path(), b"x").is_err());
    }
}
