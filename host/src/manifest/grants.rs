//! `allow-http`: the outgoing HTTP an actor component is granted, as written in the
//! manifest (`[actors.X] allow-http = ["https://api.example.com/v1", "http://127.0.0.1:8080"]`).
//!
//! Nothing is granted by default. A grant names a scheme, a host (a name, `*.` and a name
//! for its subdomains, or an IP address), an optional port (else the scheme's) and an
//! optional path prefix (matched at `/` boundaries). What the names resolve to is checked
//! when a request is made (`plugin::http`): private, loopback and link-local addresses
//! are reached only through a grant that names the address itself (or `localhost` for
//! loopback), so a public name that resolves to an internal address does not pass.

use std::fmt;
use std::net::IpAddr;

/// Most grants one entry may list (each request is checked against every one).
pub const MAX_GRANTS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Which hosts a grant covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantHost {
    /// Exactly this name (lowercase, no trailing dot).
    Name(String),
    /// Any name ending in `.<this>` (not `<this>` itself): `*.example.com`.
    Subdomains(String),
    /// Exactly this address, written as one: the only way to reach a private address.
    Ip(IpAddr),
}

/// One entry of `allow-http`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGrant {
    pub scheme: Scheme,
    pub host: GrantHost,
    pub port: u16,
    /// A path prefix, without a trailing `/` (empty: any path).
    pub path: String,
}

impl fmt::Display for HttpGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match &self.host {
            GrantHost::Name(n) => n.clone(),
            GrantHost::Subdomains(n) => format!("*.{n}"),
            GrantHost::Ip(IpAddr::V6(ip)) => format!("[{ip}]"),
            GrantHost::Ip(ip) => ip.to_string(),
        };
        let port = if self.port == self.scheme.default_port() { String::new() } else { format!(":{}", self.port) };
        write!(f, "{}://{host}{port}{}", self.scheme.as_str(), self.path)
    }
}

impl HttpGrant {
    /// Parse one grant; the error says what is wrong with it, for a manifest message.
    pub fn parse(text: &str) -> Result<HttpGrant, String> {
        let shown = crate::text::one_line(text, 120);
        let bad = |why: &str| format!("`{shown}`: {why}");
        let (scheme, rest) = match text.split_once("://") {
            Some(("http", rest)) => (Scheme::Http, rest),
            Some(("https", rest)) => (Scheme::Https, rest),
            _ => return Err(bad("a grant starts with `http://` or `https://`")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(bad("a grant names no user or password"));
        }
        if path.contains(['?', '#']) {
            return Err(bad("a grant is a path prefix, without `?` or `#`"));
        }
        if path.split('/').any(|s| s == "." || s == "..") || path.contains('%') {
            return Err(bad("a grant's path has no `.` or `..` segment and no %-escape"));
        }
        let (host, port) = split_port(authority).map_err(|why| bad(&why))?;
        let host = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            GrantHost::Ip(IpAddr::V6(v6.parse().map_err(|_| bad("not an IPv6 address between `[` and `]`"))?))
        } else if let Ok(ip) = host.parse::<IpAddr>() {
            GrantHost::Ip(ip)
        } else if let Some(suffix) = host.strip_prefix("*.") {
            check_name(suffix).map_err(|why| bad(&why))?;
            if !suffix.contains('.') {
                return Err(bad(
                    "`*.` covers the subdomains of a domain with a dot in it (`*.example.com`), not a top-level domain",
                ));
            }
            GrantHost::Subdomains(suffix.to_ascii_lowercase())
        } else {
            if host.contains('*') {
                return Err(bad("a wildcard is only `*.` at the start of the host (`*.example.com`)"));
            }
            check_name(host).map_err(|why| bad(&why))?;
            GrantHost::Name(host.to_ascii_lowercase())
        };
        let port = port.unwrap_or(scheme.default_port());
        Ok(HttpGrant { scheme, host, port, path: path.trim_end_matches('/').to_string() })
    }

    /// Whether a request to `scheme://host:port<path>` is covered (the host lowercase; an
    /// IP literal as an address). The path must have no dot segments (checked before).
    pub fn covers(&self, scheme: Scheme, host: &RequestHost, port: u16, path: &str) -> bool {
        let host_ok = match (&self.host, host) {
            (GrantHost::Name(n), RequestHost::Name(h)) => n == h,
            (GrantHost::Subdomains(s), RequestHost::Name(h)) => {
                h.len() > s.len() + 1 && h.ends_with(s.as_str()) && h.as_bytes()[h.len() - s.len() - 1] == b'.'
            }
            (GrantHost::Ip(g), RequestHost::Ip(h)) => g == h,
            _ => false,
        };
        let path_ok = self.path.is_empty()
            || path == self.path
            || path.strip_prefix(self.path.as_str()).is_some_and(|rest| rest.starts_with(['/', '?']));
        self.scheme == scheme && host_ok && self.port == port && path_ok
    }

    /// Whether this grant lets a request reach `ip` (what its host resolved to).
    /// Public addresses: always. Others only through a grant naming that very address,
    /// or `localhost` for a loopback one.
    pub fn may_reach(&self, ip: IpAddr) -> bool {
        match &self.host {
            GrantHost::Ip(g) => *g == ip,
            GrantHost::Name(n) if n == "localhost" => ip.is_loopback() || is_public(ip),
            _ => is_public(ip),
        }
    }
}

/// The host of a request, as `covers` compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestHost {
    Name(String),
    Ip(IpAddr),
}

impl RequestHost {
    pub fn parse(host: &str) -> RequestHost {
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        match bare.parse::<IpAddr>() {
            Ok(ip) => RequestHost::Ip(ip),
            Err(_) => RequestHost::Name(host.trim_end_matches('.').to_ascii_lowercase()),
        }
    }
}

/// Whether `ip` is an ordinary public address: not loopback, private, link-local,
/// shared (CGNAT), unspecified, multicast, broadcast, documentation, benchmarking or
/// reserved, nor an IPv6 form of one (mapped, NAT64, unique-local).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            if s[0] == 0x64 && s[1] == 0xff9b {
                let o = v6.octets();
                return is_public(IpAddr::V4([o[12], o[13], o[14], o[15]].into()));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || s[..6] == [0; 6])
        }
    }
}

fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => {
                let (host, rest) = authority.split_at(end + 1);
                (host, rest.strip_prefix(':'))
            }
            None => return Err("an IPv6 address is written between `[` and `]`".into()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(format!("port `{}` is not 1-65535", crate::text::one_line(p, 20))),
        },
    };
    Ok((host, port))
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err("not a host name (letters, digits and `-` in dot-separated labels)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers(grant: &str, url: (&str, &str, u16, &str)) -> bool {
        let scheme = if url.0 == "https" { Scheme::Https } else { Scheme::Http };
        HttpGrant::parse(grant).unwrap().covers(scheme, &RequestHost::parse(url.1), url.2, url.3)
    }

    #[test]
    fn grants_cover_their_scheme_host_port_and_path_prefix() {
        assert!(covers("https://api.example.com", ("https", "API.example.com", 443, "/anything")));
        assert!(!covers("https://api.example.com", ("http", "api.example.com", 443, "/")));
        assert!(!covers("https://api.example.com", ("https", "api.example.com", 8443, "/")));
        assert!(!covers("https://api.example.com", ("https", "api.example.com.evil.io", 443, "/")));
        assert!(covers("http://127.0.0.1:8080/hooks/", ("http", "127.0.0.1", 8080, "/hooks")));
        assert!(covers("http://127.0.0.1:8080/hooks", ("http", "127.0.0.1", 8080, "/hooks/a?b=1")));
        assert!(covers("http://127.0.0.1:8080/hooks", ("http", "127.0.0.1", 8080, "/hooks?b=1")));
        assert!(!covers("http://127.0.0.1:8080/hooks", ("http", "127.0.0.1", 8080, "/hookshot")));
        assert!(covers("https://*.example.com", ("https", "a.b.example.com", 443, "/")));
        assert!(!covers("https://*.example.com", ("https", "example.com", 443, "/")));
        assert!(!covers("https://*.example.com", ("https", "badexample.com", 443, "/")));
        assert!(covers("http://[::1]:9000", ("http", "[::1]", 9000, "/")));
    }

    #[test]
    fn bad_grants_say_what_is_wrong() {
        for (text, says) in [
            ("ftp://x.com", "starts with `http://` or `https://`"),
            ("https://user:pw@x.com", "no user or password"),
            ("https://x.com:0", "port `0` is not 1-65535"),
            ("https://x.com:99999", "port `99999`"),
            ("https://*", "only `*.` at the start"),
            ("https://-x.com", "not a host name"),
            ("https://*.com", "not a top-level domain"),
            ("https://a*.x.com", "only `*.` at the start"),
            ("https://x.com/a/../b", "no `.` or `..` segment"),
            ("https://x.com/a?b", "without `?` or `#`"),
            ("https://", "no host"),
            ("https://[::1", "between `[` and `]`"),
        ] {
            let err = HttpGrant::parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn only_a_grant_naming_an_internal_address_reaches_it() {
        let name = HttpGrant::parse("https://api.example.com").unwrap();
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a01:203",
        ] {
            let ip: IpAddr = internal.parse().unwrap();
            assert!(!name.may_reach(ip), "{internal} reached through a name");
        }
        assert!(name.may_reach("93.184.216.34".parse().unwrap()));
        assert!(HttpGrant::parse("http://10.1.2.3:80").unwrap().may_reach("10.1.2.3".parse().unwrap()));
        assert!(!HttpGrant::parse("http://10.1.2.3").unwrap().may_reach("10.1.2.4".parse().unwrap()));
        assert!(HttpGrant::parse("http://localhost:8080").unwrap().may_reach("127.0.0.1".parse().unwrap()));
        assert!(!HttpGrant::parse("http://localhost:8080").unwrap().may_reach("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn a_grant_prints_as_a_user_would_write_it() {
        assert_eq!(
            HttpGrant::parse("https://API.example.com:443/v1/").unwrap().to_string(),
            "https://api.example.com/v1"
        );
        assert_eq!(HttpGrant::parse("http://[::1]:8080").unwrap().to_string(), "http://[::1]:8080");
    }
}
