//! Layer compression detected by magic bytes, not by media type: archives in the wild label
//! layers inconsistently (docker-archive layers are plain tar whatever the manifest says).

use crate::error::ImageError;
use std::io::{self, BufRead, BufReader, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

pub fn detect(head: &[u8]) -> Result<Compression, ImageError> {
    let unsupported = |name: &str| ImageError::Unsupported {
        what: "layer compression",
        value: name.to_string(),
        hint: "use a plain, gzip or zstd tar layer",
    };
    Ok(match head {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
        [b'B', b'Z', b'h', ..] => return Err(unsupported("bzip2")),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => return Err(unsupported("xz")),
        _ => Compression::None,
    })
}

/// Wrap `r` in the matching decompressor. Memory stays bounded: everything streams.
pub fn decompress<'a>(r: impl Read + 'a) -> Result<Box<dyn Read + 'a>, ImageError> {
    let mut br = BufReader::with_capacity(128 * 1024, r);
    let head = br.fill_buf().map_err(|e| ImageError::LayerRead {
        layer: "(reading magic bytes)".into(),
        source: e,
    })?;
    let head = &head[..head.len().min(8)];
    Ok(match detect(head)? {
        Compression::None => Box::new(br),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(br).map_err(
            |e: io::Error| ImageError::LayerRead {
                layer: "(starting zstd decoder)".into(),
                source: e,
            },
        )?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn detects_and_decodes_plain_gzip_zstd() {
        let data = b"hello layer".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zs = zstd::encode_all(&data[..], 3).unwrap();
        assert_eq!(detect(&gz).unwrap(), Compression::Gzip);
        assert_eq!(detect(&zs).unwrap(), Compression::Zstd);
        assert_eq!(detect(&data).unwrap(), Compression::None);
        assert_eq!(detect(b"").unwrap(), Compression::None);
        assert!(detect(b"BZh91AY")
            .unwrap_err()
            .to_string()
            .contains("bzip2"));
        for input in [&data[..], &gz[..], &zs[..]] {
            let mut out = Vec::new();
            decompress(input).unwrap().read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
        }
    }
}
