//! Builds `data/netdb/netdb.bin.gz` from ip-location-db's CSV packages (see
//! `data/netdb/refresh.sh`): `netdb-build ASN_DIR COUNTRY_DIR OUT`.

use interfero_netdb::Table;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

fn open(dir: &Path, name: &str) -> Result<(String, File), String> {
    let p = dir.join(name);
    File::open(&p)
        .map(|f| (p.display().to_string(), f))
        .map_err(|e| format!("cannot open {}: {e}", p.display()))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [asn, country, out] = args.as_slice() else {
        eprintln!("usage: netdb-build ASN_PACKAGE_DIR COUNTRY_PACKAGE_DIR OUT.bin.gz");
        return ExitCode::from(2);
    };
    let run = || -> Result<(usize, usize, usize, usize), String> {
        let (a4n, mut a4) = open(Path::new(asn), "asn-ipv4.csv")?;
        let (a6n, mut a6) = open(Path::new(asn), "asn-ipv6.csv")?;
        let (c4n, mut c4) = open(Path::new(country), "asn-country-ipv4.csv")?;
        let (c6n, mut c6) = open(Path::new(country), "asn-country-ipv6.csv")?;
        let table = Table::from_csv(
            &mut [(&a4n, &mut a4 as &mut dyn Read), (&a6n, &mut a6)],
            &mut [(&c4n, &mut c4 as &mut dyn Read), (&c6n, &mut c6)],
        )
        .map_err(|e| e.to_string())?;
        let bytes = table.to_gzip().map_err(|e| e.to_string())?;
        std::fs::write(out, &bytes).map_err(|e| format!("cannot write {out}: {e}"))?;
        let (v4, v6, names) = table.sizes();
        Ok((v4, v6, names, bytes.len()))
    };
    match run() {
        Ok((v4, v6, names, size)) => {
            println!("{out}: {v4} IPv4 ranges, {v6} IPv6 ranges, {names} AS names, {size} bytes");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("netdb-build: {e}");
            ExitCode::FAILURE
        }
    }
}
