use super::*;

#[test]
fn directives_comments_continuations() {
    let df = parse(
        "# syntax=docker/dockerfile:1\n# escape=`\n# check=skip=all\n\n# a comment\nFROM busybox AS b\nRUN echo a `\n  # dropped comment\n\n  && echo b\nrun  --network=host   echo  c\n",
    )
    .unwrap();
    assert_eq!(df.directives.escape, '`');
    assert_eq!(df.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(df.directives.check.as_deref(), Some("skip=all"));
    assert_eq!(df.lines.len(), 3);
    assert_eq!(df.lines[0].keyword, "FROM");
    assert_eq!(df.lines[0].line, 6);
    assert_eq!(df.lines[1].args, "echo a   && echo b");
    assert_eq!(df.lines[1].line, 7);
    assert_eq!(df.lines[2].keyword, "RUN");
    assert_eq!(df.lines[2].flags, vec![("network".into(), "host".into())]);
    assert_eq!(df.lines[2].args, "echo  c");
}

#[test]
fn directive_after_instruction_is_a_comment() {
    let df = parse("FROM x\n# escape=`\nRUN a \\\n b\n").unwrap();
    assert_eq!(df.directives.escape, '\\');
    assert_eq!(df.lines[1].args, "a  b");
}

#[test]
fn escaped_escape_is_not_continuation() {
    let df = parse("FROM x\nRUN echo \\\\\nCMD y\n").unwrap();
    assert_eq!(df.lines.len(), 3);
}

#[test]
fn heredocs() {
    let df = parse(
        "FROM x\nRUN <<EOF\necho hi\necho there\nEOF\nCOPY <<-\"A\" <<B /dst/\n\tone $X\n\tA\ntwo\nB\nCMD z\n",
    )
    .unwrap();
    assert_eq!(df.lines.len(), 4);
    let run = &df.lines[1];
    assert_eq!(run.heredocs.len(), 1);
    assert_eq!(run.heredocs[0].body, "echo hi\necho there\n");
    let copy = &df.lines[2];
    assert_eq!(copy.heredocs.len(), 2);
    assert_eq!(copy.heredocs[0].name, "A");
    assert_eq!(copy.heredocs[0].body, "one $X\n");
    assert!(!copy.heredocs[0].expand);
    assert!(copy.heredocs[1].expand);
    assert_eq!(df.lines[3].keyword, "CMD");
}

#[test]
fn errors_have_line_numbers() {
    let e = parse("FROM x\nRUN <<EOF\nno end\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.to_string().contains("line 2"), "{e}");
    let e = parse("FROM x\n\n=bad thing\n").unwrap_err();
    assert_eq!(e.line, 3);
    let e = parse("# escape=x\nFROM a\n").unwrap_err();
    assert_eq!(e.line, 1);
}

#[test]
fn json_forms() {
    assert_eq!(
        json_form(r#"["a", "b c"]"#),
        Some(vec!["a".to_string(), "b c".to_string()])
    );
    assert_eq!(json_form("[not json"), None);
    assert_eq!(json_form("echo [x]"), None);
}
