//! The `.npy` file encoding (NumPy format version 1.0), shared by every writer of `.npz` archives
//! (surface exports, synthetic data sets); readers live with their checks in losscape-data.

/// A `.npy` version 1.0 file: magic, version, header length (u16 LE), the header dict padded with
/// spaces and a newline so that the data start at a multiple of 64 bytes, then `data` (already in
/// the byte order and type that `descr` names, e.g. `<f8`, `|u1`, `<i8`).
pub fn encode(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_padded_to_64_bytes_and_shapes_are_python_tuples() {
        let one = encode("<f8", &[2], &[0u8; 16]);
        assert_eq!(&one[..8], b"\x93NUMPY\x01\x00");
        let header_len = u16::from_le_bytes([one[8], one[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&one[10..10 + header_len]).unwrap();
        assert!(header.contains("'shape': (2,)") && header.ends_with('\n'), "{header}");
        assert_eq!(one.len(), 10 + header_len + 16);
        let two = encode("|u1", &[3, 4], &[0u8; 12]);
        assert!(std::str::from_utf8(&two[10..74]).unwrap().contains("'shape': (3, 4)"));
    }
}
