//! The process identity: groups, gid, uid and umask, applied in the order that keeps the
//! process able to finish its own setup.

use nix::unistd::{Gid, Uid};

use crate::error::{Context, Result};

/// Numeric identity from `process.user` or `exec --user uid[:gid]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
}

impl Identity {
    pub fn from_spec(user: &oci_spec::runtime::User) -> Identity {
        Identity {
            uid: user.uid(),
            gid: user.gid(),
            additional_gids: user.additional_gids().clone().unwrap_or_default(),
            umask: user.umask(),
        }
    }

    /// Set groups, then gid, then uid: once the uid changes the process may no longer be
    /// allowed to change its groups.
    pub fn apply(&self, setgroups_allowed: bool) -> Result<()> {
        if setgroups_allowed {
            let groups: Vec<Gid> = self
                .additional_gids
                .iter()
                .map(|&g| Gid::from_raw(g))
                .collect();
            nix::unistd::setgroups(&groups)
                .op(|| format!("setgroups {:?}", self.additional_gids))?;
        }
        let gid = Gid::from_raw(self.gid);
        nix::unistd::setresgid(gid, gid, gid).op(|| format!("setgid {}", self.gid))?;
        let uid = Uid::from_raw(self.uid);
        nix::unistd::setresuid(uid, uid, uid).op(|| format!("setuid {}", self.uid))?;
        if let Some(mask) = self.umask {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
        }
        Ok(())
    }
}

/// Parse `uid[:gid]` as runc's `exec --user` takes it.
pub fn parse_user_flag(text: &str) -> Option<(u32, Option<u32>)> {
    let (u, g) = match text.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (text, None),
    };
    let uid = u.parse().ok()?;
    let gid = match g {
        Some(g) => Some(g.parse().ok()?),
        None => None,
    };
    Some((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_flag() {
        assert_eq!(parse_user_flag("1000"), Some((1000, None)));
        assert_eq!(parse_user_flag("1000:50"), Some((1000, Some(50))));
        assert_eq!(parse_user_flag("bob"), None);
        assert_eq!(parse_user_flag("1:x"), None);
    }
}
