use super::*;
use crate::parser::parse;

fn one(text: &str, vars: &[(&str, &str)]) -> Result<Instr, ParseError> {
    let df = parse(text).unwrap();
    let vars: Vars = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    resolve(&df.lines[0], &vars, df.directives.escape)
}

#[test]
fn env_forms() {
    assert_eq!(
        one("ENV A=1 B=\"two words\" C=$X", &[("X", "x")]).unwrap(),
        Instr::Env(vec![
            ("A".into(), "1".into()),
            ("B".into(), "two words".into()),
            ("C".into(), "x".into())
        ])
    );
    assert_eq!(
        one("ENV A hello  world", &[]).unwrap(),
        Instr::Env(vec![("A".into(), "hello  world".into())])
    );
    assert!(one("ENV A", &[]).is_err());
    assert!(one("LABEL a b", &[]).is_err());
}

#[test]
fn from_and_copy() {
    assert_eq!(
        one("FROM ${IMG:-busybox} AS Build", &[]).unwrap(),
        Instr::From {
            image: "busybox".into(),
            stage: Some("build".into())
        }
    );
    let Instr::Copy(c) = one(
        "COPY --from=b --chown=1:2 --chmod=640 a* ${D}/ /x/",
        &[("D", "d")],
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(
        c.sources,
        vec![Source::Path("a*".into()), Source::Path("d/".into())]
    );
    assert_eq!(c.dest, "/x/");
    assert_eq!(c.from.as_deref(), Some("b"));
    assert_eq!(c.chown.as_deref(), Some("1:2"));
    assert_eq!(c.chmod, Some(0o640));
    assert!(one("COPY --chmod=9z a b", &[]).is_err());
    assert!(one("COPY a", &[]).is_err());
    assert!(one("COPY --bogus a b", &[]).is_err());
    let e = one("COPY --exclude=*.md a b", &[]).unwrap_err();
    assert!(e.to_string().contains("needs BuildKit"), "{e}");
    assert!(one("ADD --checksum=sha256:x a b", &[]).is_err());
}

#[test]
fn copy_heredoc_expands_unless_quoted() {
    let Instr::Copy(c) = one("COPY <<EOF /f\nv=$V\nEOF\n", &[("V", "1")]).unwrap() else {
        panic!()
    };
    assert_eq!(
        c.sources,
        vec![Source::Inline {
            name: "EOF".into(),
            content: "v=1\n".into()
        }]
    );
    let Instr::Copy(c) = one("COPY <<'EOF' /f\nv=$V\nEOF\n", &[("V", "1")]).unwrap() else {
        panic!()
    };
    assert!(matches!(&c.sources[0], Source::Inline { content, .. } if content == "v=$V\n"));
}

#[test]
fn run_forms() {
    assert_eq!(
        one("RUN [\"echo\", \"$A\"]", &[]).unwrap(),
        Instr::Run {
            cmd: Command::Exec(vec!["echo".into(), "$A".into()]),
            network: Network::Default
        }
    );
    assert_eq!(
        one("RUN --network=host echo $A", &[]).unwrap(),
        Instr::Run {
            cmd: Command::Shell("echo $A".into()),
            network: Network::Host
        }
    );
    assert_eq!(
        one("RUN <<EOF\necho a\nEOF\n", &[]).unwrap(),
        Instr::Run {
            cmd: Command::Shell("echo a\n".into()),
            network: Network::Default
        }
    );
    assert_eq!(
        one("RUN cat <<EOF > /f\nx\nEOF\n", &[]).unwrap(),
        Instr::Run {
            cmd: Command::Shell("cat <<EOF > /f\nx\nEOF\n".into()),
            network: Network::Default
        }
    );
    assert!(one("RUN --network=bridge x", &[]).is_err());
    assert!(one("RUN --mount=type=cache,target=/x x", &[]).is_err());
}

#[test]
fn healthcheck_expose_misc() {
    let Instr::Healthcheck(h) = one(
        "HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost",
        &[],
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(h.test, vec!["CMD-SHELL", "wget -q localhost"]);
    assert_eq!(h.interval, Some(5_000_000_000));
    assert_eq!(h.retries, Some(3));
    assert_eq!(
        one("EXPOSE 80 $P/udp", &[("P", "53")]).unwrap(),
        Instr::Expose {
            ports: vec!["53/udp".into(), "80/tcp".into()],
            raw: vec!["53/udp".into(), "80".into()]
        }
    );
    assert!(one("EXPOSE http", &[]).is_err());
    assert!(one("SHELL /bin/bash -c", &[]).is_err());
    assert!(one("ONBUILD FROM x", &[]).is_err());
    assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
    assert_eq!(parse_duration("500ms"), Some(500_000_000));
    assert_eq!(
        one("ARG A B=${X:-d}", &[]).unwrap(),
        Instr::Arg(vec![("A".into(), None), ("B".into(), Some("d".into()))])
    );
    let e = one("FROBNICATE x", &[]).unwrap_err();
    assert!(e.to_string().contains("unknown instruction"), "{e}");
}
