//! `weave env`: the `WEAVE_*` variables the runtime reads, from the
//! library's own table (`weave::config::variables`), with the value each
//! has in this environment and whether the runtime would accept it. The
//! table and the parsing are the library's; this only prints them.

use weave::config::{self, Variable};

/// Prints every variable; fails (after printing) when a value set here
/// would be refused, so that a script can check its environment.
pub fn run() -> Result<(), String> {
    let vars = config::variables();
    let width = vars.iter().map(|v| v.name.len()).max().unwrap_or(0);
    println!("The WEAVE_* variables, read once when the runtime starts:");
    let mut invalid = 0;
    for v in vars {
        println!();
        println!("{:<width$}  default {}", v.name, v.default);
        println!("{:<width$}  {}", "", v.meaning);
        println!("{:<width$}  accepts {}", "", v.accepted());
        println!("{:<width$}  {}", "", state(v, &mut invalid));
    }
    println!();
    match weave::stack::compaction_support() {
        Ok(()) => println!(
            "Compaction of idle stacks (WEAVE_COMPACT): this kernel supports it; on after {} \
             unless set (the C library: off unless set)",
            config::variable("WEAVE_COMPACT").map_or("?", |v| v.default)
        ),
        Err(why) => println!("Compaction of idle stacks (WEAVE_COMPACT): off here: {why}"),
    }
    match invalid {
        0 => Ok(()),
        1 => Err("1 variable has a value the runtime refuses (see above)".into()),
        n => Err(format!(
            "{n} variables have values the runtime refuses (see above)"
        )),
    }
}

/// What this environment sets `v` to, and what the runtime makes of it.
fn state(v: &Variable, invalid: &mut usize) -> String {
    let raw = std::env::var_os(v.name);
    let shown = raw.as_deref().map(|r| r.to_string_lossy());
    match v.check(raw.as_deref()) {
        None if shown.is_some() => "set empty here: counts as unset".to_owned(),
        None => "unset here: the default is used".to_owned(),
        Some(Ok(value)) => format!(
            "set here to {:?}: valid, {value}",
            shown.unwrap_or_default()
        ),
        Some(Err(_)) => {
            *invalid += 1;
            format!(
                "set here to {:?}: NOT VALID, the runtime warns and uses the default",
                shown.unwrap_or_default()
            )
        }
    }
}
