//! Docker's volume copy-up: an empty volume mounted over a directory of the image starts as
//! a copy of that directory (ownership, modes, symlinks and times kept), so an image's
//! `/var/lib/app` defaults survive the volume. `--mount …,volume-nocopy` turns it off.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Copy `src`'s contents into the empty directory `dst`. `src` comes from an image and may
/// hold symlinks: they are recreated as links, never followed.
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    // `src` itself may be a `/proc/self/fd/N` link to the directory: follow that one.
    let meta = fs::metadata(src)?;
    if !meta.is_dir() {
        return Ok(());
    }
    // The volume root takes the mount point's owner and mode, as Docker does.
    std::os::unix::fs::chown(dst, Some(meta.uid()), Some(meta.gid()))?;
    fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    copy_dir(src, dst, 0)
}

/// Depth bound: a hostile image cannot make the daemon recurse without end.
const MAX_DEPTH: usize = 256;

fn copy_dir(src: &Path, dst: &Path, depth: usize) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::other(format!(
            "{} is nested more than {MAX_DEPTH} levels deep",
            src.display()
        )));
    }
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let meta = fs::symlink_metadata(&from)?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
        } else if ft.is_dir() {
            fs::create_dir(&to)?;
            copy_dir(&from, &to, depth + 1)?;
            fs::set_permissions(&to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        } else if ft.is_file() {
            fs::copy(&from, &to)?;
            fs::set_permissions(&to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        } else {
            // Devices, fifos and sockets in an image directory are not volume data.
            continue;
        }
        std::os::unix::fs::lchown(&to, Some(meta.uid()), Some(meta.gid()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_files_dirs_and_links_without_following() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        fs::create_dir(src.path().join("conf")).unwrap();
        fs::write(src.path().join("conf/app.ini"), "x=1").unwrap();
        fs::set_permissions(
            src.path().join("conf/app.ini"),
            fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        std::os::unix::fs::symlink("/etc/shadow", src.path().join("evil")).unwrap();
        copy_tree(src.path(), dst.path()).unwrap();
        assert_eq!(
            fs::read_to_string(dst.path().join("conf/app.ini")).unwrap(),
            "x=1"
        );
        let mode = fs::metadata(dst.path().join("conf/app.ini"))
            .unwrap()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(
            fs::read_link(dst.path().join("evil")).unwrap(),
            Path::new("/etc/shadow")
        );
    }
}
