//! bpf(2) for the v2 device filter, behind a narrow trait so the replace sequence
//! (attach new, then detach old, never leaving the cgroup unfiltered) is unit-tested.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::devices_ebpf::Insn;
use crate::CgroupError;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The kernel operations the device filter needs.
pub trait DeviceFilterOps {
    type Prog;
    /// Programs currently attached to the cgroup for BPF_CGROUP_DEVICE.
    fn attached(&self, cgroup: BorrowedFd<'_>) -> Result<Vec<Self::Prog>, CgroupError>;
    fn load(&self, prog: &[Insn]) -> Result<Self::Prog, CgroupError>;
    fn attach(&self, cgroup: BorrowedFd<'_>, prog: &Self::Prog) -> Result<(), CgroupError>;
    fn detach(&self, cgroup: BorrowedFd<'_>, prog: &Self::Prog) -> Result<(), CgroupError>;
}

/// Install `prog` on the cgroup, replacing earlier filters. The new program is attached
/// (with ALLOW_MULTI) before the old ones go, so there is no unfiltered window.
pub fn replace<O: DeviceFilterOps>(
    ops: &O,
    cgroup: BorrowedFd<'_>,
    prog: &[Insn],
) -> Result<(), CgroupError> {
    let old = ops.attached(cgroup)?;
    let new = ops.load(prog)?;
    ops.attach(cgroup, &new)?;
    for p in &old {
        ops.detach(cgroup, p)?;
    }
    Ok(())
}

/// The real bpf(2).
pub struct Kernel;

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, properly sized #[repr(C)] prefix of `union bpf_attr`
    // (the kernel zero-extends shorter attrs); pointers inside it stay valid for the
    // duration of the call because the caller borrows their targets.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: bpf(2) returned a fresh file descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

fn err(op: &'static str) -> impl FnOnce(io::Error) -> CgroupError {
    move |source| CgroupError::Bpf { op, source }
}

impl Kernel {
    fn load_with_log(&self, prog: &[Insn], log: Option<&mut Vec<u8>>) -> io::Result<OwnedFd> {
        let code: Vec<u8> = prog.iter().flat_map(|i| i.encode()).collect();
        let license = c"Apache";
        let mut attr = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
            insn_cnt: prog.len() as u32,
            insns: code.as_ptr() as u64,
            license: license.as_ptr() as u64,
            ..Default::default()
        };
        if let Some(buf) = log {
            attr.log_level = 1;
            attr.log_size = buf.len() as u32;
            attr.log_buf = buf.as_mut_ptr() as u64;
        }
        bpf(BPF_PROG_LOAD, &mut attr).map(owned)
    }
}

impl DeviceFilterOps for Kernel {
    type Prog = OwnedFd;

    fn attached(&self, cgroup: BorrowedFd<'_>) -> Result<Vec<OwnedFd>, CgroupError> {
        let mut ids = vec![0u32; 64];
        let mut attr = QueryAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        bpf(BPF_PROG_QUERY, &mut attr).map_err(err("BPF_PROG_QUERY"))?;
        ids.truncate(attr.prog_cnt as usize);
        ids.into_iter()
            .map(|id| {
                let mut a = GetFdAttr {
                    prog_id: id,
                    ..Default::default()
                };
                bpf(BPF_PROG_GET_FD_BY_ID, &mut a)
                    .map(owned)
                    .map_err(err("BPF_PROG_GET_FD_BY_ID"))
            })
            .collect()
    }

    fn load(&self, prog: &[Insn]) -> Result<OwnedFd, CgroupError> {
        match self.load_with_log(prog, None) {
            Ok(fd) => Ok(fd),
            // Reload only on failure to get the verifier's explanation.
            Err(source)
                if source.raw_os_error() == Some(libc::EACCES)
                    || source.raw_os_error() == Some(libc::EINVAL) =>
            {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = self.load_with_log(prog, Some(&mut buf));
                let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
                Err(CgroupError::BpfVerifier {
                    log: String::from_utf8_lossy(&buf[..end]).into_owned(),
                    source,
                })
            }
            Err(source) => Err(CgroupError::Bpf {
                op: "BPF_PROG_LOAD",
                source,
            }),
        }
    }

    fn attach(&self, cgroup: BorrowedFd<'_>, prog: &OwnedFd) -> Result<(), CgroupError> {
        let mut attr = AttachAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_bpf_fd: prog.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            attach_flags: BPF_F_ALLOW_MULTI,
        };
        bpf(BPF_PROG_ATTACH, &mut attr)
            .map(drop)
            .map_err(err("BPF_PROG_ATTACH"))
    }

    fn detach(&self, cgroup: BorrowedFd<'_>, prog: &OwnedFd) -> Result<(), CgroupError> {
        let mut attr = AttachAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_bpf_fd: prog.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            attach_flags: 0,
        };
        bpf(BPF_PROG_DETACH, &mut attr)
            .map(drop)
            .map_err(err("BPF_PROG_DETACH"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::os::fd::AsFd;

    #[derive(Default)]
    struct Recorder {
        attached: RefCell<Vec<u32>>,
        log: RefCell<Vec<String>>,
        next: RefCell<u32>,
    }

    impl DeviceFilterOps for Recorder {
        type Prog = u32;
        fn attached(&self, _: BorrowedFd<'_>) -> Result<Vec<u32>, CgroupError> {
            Ok(self.attached.borrow().clone())
        }
        fn load(&self, prog: &[Insn]) -> Result<u32, CgroupError> {
            *self.next.borrow_mut() += 1;
            let id = *self.next.borrow();
            self.log
                .borrow_mut()
                .push(format!("load {id} ({} insns)", prog.len()));
            Ok(id)
        }
        fn attach(&self, _: BorrowedFd<'_>, p: &u32) -> Result<(), CgroupError> {
            self.attached.borrow_mut().push(*p);
            self.log.borrow_mut().push(format!("attach {p}"));
            Ok(())
        }
        fn detach(&self, _: BorrowedFd<'_>, p: &u32) -> Result<(), CgroupError> {
            self.attached.borrow_mut().retain(|x| x != p);
            self.log.borrow_mut().push(format!("detach {p}"));
            Ok(())
        }
    }

    #[test]
    fn replace_attaches_before_detaching() {
        let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
        let ops = Recorder::default();
        let prog = super::super::devices_ebpf::device_filter(&[]).unwrap();
        replace(&ops, dir.as_fd(), &prog).unwrap();
        replace(&ops, dir.as_fd(), &prog).unwrap();
        assert_eq!(
            *ops.log.borrow(),
            [
                "load 1 (8 insns)",
                "attach 1",
                "load 2 (8 insns)",
                "attach 2",
                "detach 1"
            ]
        );
        assert_eq!(*ops.attached.borrow(), [2]);
    }
}
