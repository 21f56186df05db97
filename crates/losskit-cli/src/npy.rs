//! NumPy `.npy` files: reading the dtypes `eval` accepts and writing f32/f64 results, with npyz.
//!
//! Reading is strict: little-endian, C order, and one of float32, float64, int32, int64,
//! uint8 or bool. Anything else is refused with a message saying what the file holds and how
//! to re-save it, never converted silently.
//!
//! Writing goes through [`Staged`]: the file is first written next to its destination under a
//! hidden temporary name and only renamed into place by [`Staged::commit`], so a failed run
//! leaves no half-written output behind.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use losskit::{ArrayData, FloatArray};
use npyz::{DType, Endianness, NpyFile, Order, TypeChar, TypeStr, WriterBuilder};

/// The first bytes of every `.npy` file.
const MAGIC: &[u8] = b"\x93NUMPY";

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
        }
    }

    /// Whether the elements are float64.
    pub fn is_f64(&self) -> bool {
        matches!(self.data, Data::F64(_))
    }
}

/// Why a file could not be read. The `Display` text is a clause meant to follow
/// "cannot read … from FILE: ".
#[derive(Debug)]
pub enum ReadError {
    /// The file could not be opened or read.
    Io(io::Error),
    /// The file does not start with the `.npy` magic string.
    NotNpy,
    /// npyz rejected the header or the data.
    Malformed(String),
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
        present: usize,
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
            ReadError::Dtype(d) => write!(
                f,
                "dtype `{d}` is not supported; .npy inputs must be float32, float64, int32, int64, uint8 or bool"
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
            ReadError::TooLarge(dims) => {
                let dims: Vec<String> = dims.iter().map(u64::to_string).collect();
                write!(f, "the shape [{}] has more elements than this machine can address", dims.join(", "))
            }
        }
    }
}

/// The dtypes read, by their `.npy` type string (`|` marks one-byte types).
#[derive(Clone, Copy)]
enum Kind {
    F32,
    F64,
    I32,
    I64,
    U8,
    Bool,
}

impl Kind {
    fn of(ty: &TypeStr) -> Option<Kind> {
        match (ty.type_char(), ty.size_field()) {
            (TypeChar::Float, 4) => Some(Kind::F32),
            (TypeChar::Float, 8) => Some(Kind::F64),
            (TypeChar::Int, 4) => Some(Kind::I32),
            (TypeChar::Int, 8) => Some(Kind::I64),
            (TypeChar::Uint, 1) => Some(Kind::U8),
            (TypeChar::Bool, 1) => Some(Kind::Bool),
            _ => None,
        }
    }

    fn item_size(self) -> u128 {
        match self {
            Kind::F32 | Kind::I32 => 4,
            Kind::F64 | Kind::I64 => 8,
            Kind::U8 | Kind::Bool => 1,
        }
    }
}

/// Reads a `.npy` file.
///
/// # Errors
/// A [`ReadError`] for an unreadable or malformed file, an unsupported, big-endian dtype,
/// Fortran order, or fewer data bytes than the shape needs.
pub fn read(path: &Path) -> Result<Array, ReadError> {
    let bytes = fs::read(path).map_err(ReadError::Io)?;
    if !bytes.starts_with(MAGIC) {
        return Err(ReadError::NotNpy);
    }
    let npy = NpyFile::new(bytes.as_slice()).map_err(|e| ReadError::Malformed(e.to_string()))?;
    let header = npy.header().clone();
    let ty = match header.dtype() {
        DType::Plain(ty) => ty,
        other => return Err(ReadError::Dtype(other.descr())),
    };
    let kind = Kind::of(&ty).ok_or_else(|| ReadError::Dtype(ty.to_string()))?;
    if ty.endianness() == Endianness::Big {
        return Err(ReadError::BigEndian(ty.to_string()));
    }
    let dims = header
        .shape()
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| ReadError::TooLarge(header.shape().to_vec()))?;
    let numel = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| ReadError::TooLarge(header.shape().to_vec()))?;
    // A Fortran-order array of at most one dimension is laid out as in C order, and NumPy
    // never writes one; still, refuse only when the order changes the meaning.
    if header.order() == Order::Fortran && dims.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(ReadError::Fortran);
    }
    let rest: &[u8] = npy.into_inner();
    let needed = numel as u128 * kind.item_size();
    if (rest.len() as u128) < needed {
        return Err(ReadError::Truncated {
            dims,
            dtype: ty.to_string(),
            needed,
            present: rest.len(),
        });
    }
    let file = NpyFile::with_header(header, rest);
    let malformed = |e: io::Error| ReadError::Malformed(e.to_string());
    let data = match kind {
        Kind::F32 => Data::F32(file.into_vec().map_err(malformed)?),
        Kind::F64 => Data::F64(file.into_vec().map_err(malformed)?),
        Kind::I32 => Data::I32(file.into_vec().map_err(malformed)?),
        Kind::I64 => Data::I64(file.into_vec().map_err(malformed)?),
        Kind::U8 => Data::U8(file.into_vec().map_err(malformed)?),
        Kind::Bool => Data::Bool(file.into_vec().map_err(malformed)?),
    };
    Ok(Array { dims, data })
}

/// The bytes of a little-endian, C-order `.npy` file holding `data` with shape `dims`.
pub fn encode(dims: &[usize], data: &FloatArray) -> io::Result<Vec<u8>> {
    let shape: Vec<u64> = dims.iter().map(|&d| d as u64).collect();
    let mut bytes = Vec::new();
    match data {
        FloatArray::F32(v) => {
            let mut w = npyz::WriteOptions::<f32>::new()
                .dtype(DType::Plain(type_str("<f4")?))
                .shape(&shape)
                .writer(&mut bytes)
                .begin_nd()?;
            w.extend(v.iter().copied())?;
            w.finish()?;
        }
        FloatArray::F64(v) => {
            let mut w = npyz::WriteOptions::<f64>::new()
                .dtype(DType::Plain(type_str("<f8")?))
                .shape(&shape)
                .writer(&mut bytes)
                .begin_nd()?;
            w.extend(v.iter().copied())?;
            w.finish()?;
        }
    }
    Ok(bytes)
}

fn type_str(s: &str) -> io::Result<TypeStr> {
    s.parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{e}")))
}

/// An output written under a temporary name beside its destination, not yet in place.
///
/// Dropping it without [`commit`](Staged::commit) removes the temporary file.
#[derive(Debug)]
pub struct Staged {
    temp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl Staged {
    /// Writes `bytes` to a new hidden file in `dest`'s directory.
    ///
    /// # Errors
    /// When `dest` is a directory or has no file name, or the directory is not writable.
    pub fn write(dest: &Path, bytes: &[u8]) -> io::Result<Staged> {
        if dest.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is a directory",
            ));
        }
        let name = dest
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "it has no file name"))?;
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".losskit-{}.tmp", std::process::id()));
        let temp = dir.join(temp_name);
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

    /// Renames the temporary file to its destination, replacing what was there.
    ///
    /// # Errors
    /// When the rename fails (the temporary file is then removed).
    pub fn commit(mut self) -> io::Result<()> {
        fs::rename(&self.temp, &self.dest)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
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
            msg("{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", &[0, 0]),
            "dtype `<f2` is not supported; .npy inputs must be float32, float64, int32, int64, uint8 or bool"
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
    fn staged_files_appear_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.npy");
        let staged = Staged::write(&dest, b"abc").unwrap();
        assert!(!dest.exists());
        staged.commit().unwrap();
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
