//! Image files for `read`: recognised by their first bytes (never the
//! extension), checked by decoding, and scaled down to fit
//! [`MAX_DIMENSION`] px per side before they reach the model.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::model::ImageContent;

/// Longest side sent to the model, as Pi does (providers downscale or
/// reject beyond that).
const MAX_DIMENSION: u32 = 2000;

/// Quality of the JPEG candidate when a resized image is re-encoded (Pi's).
const JPEG_QUALITY: u8 = 80;

/// The MIME type of a PNG, JPEG, GIF or WebP file, from its magic bytes.
pub fn detect_mime(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"\xFF\xD8\xFF") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// An image ready for the model, and the size it had on disk.
#[derive(Debug)]
pub struct Prepared {
    pub image: ImageContent,
    pub original_width: u32,
    pub original_height: u32,
}

impl Prepared {
    pub fn was_resized(&self) -> bool {
        (self.image.width, self.image.height) != (self.original_width, self.original_height)
    }
}

/// Decodes the whole file (a corrupt or truncated image is an error, not a
/// blob the provider rejects later). An image within [`MAX_DIMENSION`] is
/// sent as read; a larger one is scaled down, aspect kept, and re-encoded
/// as PNG or JPEG, whichever is smaller.
pub fn prepare(bytes: &[u8], mime: &'static str) -> Result<Prepared, String> {
    let format = match mime {
        "image/png" => ImageFormat::Png,
        "image/jpeg" => ImageFormat::Jpeg,
        "image/gif" => ImageFormat::Gif,
        _ => ImageFormat::WebP,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    // The crate's default allocation cap (512 MB) stops decompression bombs.
    reader.limits(Limits::default());
    let decoded = reader.decode().map_err(|e| e.to_string())?;
    let (width, height) = (decoded.width(), decoded.height());
    if width <= MAX_DIMENSION && height <= MAX_DIMENSION {
        return Ok(Prepared {
            image: ImageContent::new(mime, bytes, width, height),
            original_width: width,
            original_height: height,
        });
    }
    let (w, h) = fit(width, height, MAX_DIMENSION);
    let resized = decoded.resize_exact(w, h, FilterType::Lanczos3);
    let (mime, encoded) = smaller_encoding(&resized)?;
    Ok(Prepared {
        image: ImageContent::new(mime, &encoded, w, h),
        original_width: width,
        original_height: height,
    })
}

/// The size that fits `max` on both sides with the aspect ratio kept
/// (rounded, never below 1 px).
fn fit(width: u32, height: u32, max: u32) -> (u32, u32) {
    let (mut w, mut h) = (width as f64, height as f64);
    if w > max as f64 {
        h = (h * max as f64 / w).round();
        w = max as f64;
    }
    if h > max as f64 {
        w = (w * max as f64 / h).round();
        h = max as f64;
    }
    ((w as u32).max(1), (h as u32).max(1))
}

/// PNG (lossless, good for screenshots) or JPEG (photos): the smaller wins.
fn smaller_encoding(img: &DynamicImage) -> Result<(&'static str, Vec<u8>), String> {
    let mut png = Vec::new();
    img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| format!("cannot encode the resized image: {e}"))?;
    let mut jpeg = Vec::new();
    // JPEG has no alpha channel: transparency is flattened.
    JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
        .encode_image(&DynamicImage::ImageRgb8(img.to_rgb8()))
        .map_err(|e| format!("cannot encode the resized image: {e}"))?;
    Ok(if jpeg.len() < png.len() {
        ("image/jpeg", jpeg)
    } else {
        ("image/png", png)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use image::{Rgb, RgbImage};

    /// A gradient (so neither encoder gets a trivially tiny file).
    fn picture(width: u32, height: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        }))
    }

    fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), format)
            .expect("encode");
        out
    }

    fn decode_sent(p: &Prepared) -> DynamicImage {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&p.image.base64)
            .expect("base64");
        assert_eq!(bytes.len(), p.image.bytes);
        image::load_from_memory(&bytes).expect("decodable")
    }

    #[test]
    fn detects_by_magic_bytes_only() {
        let png = encode(&picture(4, 4), ImageFormat::Png);
        let jpeg = encode(&picture(4, 4), ImageFormat::Jpeg);
        let gif = encode(&picture(4, 4), ImageFormat::Gif);
        let webp = encode(&picture(4, 4), ImageFormat::WebP);
        assert_eq!(detect_mime(&png), Some("image/png"));
        assert_eq!(detect_mime(&jpeg), Some("image/jpeg"));
        assert_eq!(detect_mime(&gif), Some("image/gif"));
        assert_eq!(detect_mime(&webp), Some("image/webp"));
        assert_eq!(detect_mime(b"\x89PNG but text"), None);
        assert_eq!(detect_mime(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(detect_mime(b"hello"), None);
        assert_eq!(detect_mime(b""), None);
    }

    #[test]
    fn a_wide_image_is_scaled_to_2000_px_with_its_aspect() {
        let png = encode(&picture(3000, 1000), ImageFormat::Png);
        let p = prepare(&png, "image/png").expect("prepared");
        assert_eq!((p.image.width, p.image.height), (2000, 667));
        assert_eq!((p.original_width, p.original_height), (3000, 1000));
        assert!(p.was_resized());
        let sent = decode_sent(&p);
        assert_eq!((sent.width(), sent.height()), (2000, 667));
        assert!(matches!(p.image.mime_type, "image/png" | "image/jpeg"));
    }

    #[test]
    fn a_tall_jpeg_is_scaled_on_its_height() {
        let jpeg = encode(&picture(900, 2400), ImageFormat::Jpeg);
        let p = prepare(&jpeg, "image/jpeg").expect("prepared");
        assert_eq!((p.image.width, p.image.height), (750, 2000));
        let sent = decode_sent(&p);
        assert_eq!((sent.width(), sent.height()), (750, 2000));
    }

    #[test]
    fn a_small_image_is_sent_byte_identical() {
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Gif] {
            let bytes = encode(&picture(10, 10), format);
            let mime = detect_mime(&bytes).expect("image");
            let p = prepare(&bytes, mime).expect("prepared");
            assert!(!p.was_resized());
            assert_eq!(p.image.mime_type, mime);
            assert_eq!((p.image.width, p.image.height), (10, 10));
            assert_eq!(
                p.image.base64,
                base64::engine::general_purpose::STANDARD.encode(&bytes)
            );
        }
        // Exactly 2000 px is within the limit.
        let edge = encode(&picture(2000, 5), ImageFormat::Png);
        assert!(!prepare(&edge, "image/png").expect("prepared").was_resized());
    }

    #[test]
    fn a_truncated_image_is_an_error() {
        let png = encode(&picture(10, 10), ImageFormat::Png);
        let err = prepare(&png[..png.len() / 2], "image/png").expect_err("truncated");
        assert!(!err.is_empty());
        let err = prepare(b"\x89PNG\r\n\x1a\n", "image/png").expect_err("header only");
        assert!(!err.is_empty());
        let jpeg = encode(&picture(10, 10), ImageFormat::Jpeg);
        assert!(prepare(&jpeg[..40], "image/jpeg").is_err());
    }

    #[test]
    fn fitting_keeps_aspect_and_never_reaches_zero() {
        assert_eq!(fit(3000, 1000, 2000), (2000, 667));
        assert_eq!(fit(1000, 3000, 2000), (667, 2000));
        assert_eq!(fit(4000, 4000, 2000), (2000, 2000));
        assert_eq!(fit(100_000, 1, 2000), (2000, 1));
    }
}
