//! Who is asking: the client's address, as the socket's peer or, behind a trusted proxy, as
//! the proxy reports it.
//!
//! A client can write anything into `X-Forwarded-For` or `Forwarded`, so the headers are read
//! only when the peer is a configured proxy ([`TrustedProxies`]), and then from the right: each
//! proxy appends the address it received the request from, so the right-most entry that is not
//! itself a trusted proxy is the first address no trusted party vouches for, and the client
//! (MDN, "X-Forwarded-For: Selecting an IP address"; RFC 7239 §5.2). Entries to its left are
//! the client's own claims and are never used, so forged headers cannot move a client out of
//! its limit. An entry a trusted proxy wrote that is not an address (`unknown`, an obfuscated
//! identifier, garbage) stops the walk at the last address known: requests are then charged to
//! that proxy, which errs on the side of limiting.
//!
//! Limits apply to an IPv4 address, or to the /64 network of an IPv6 address: one subscriber
//! usually holds a whole /64 (RFC 6177) and can change addresses within it at will.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use super::guard::Guard;

/// Which header a trusted proxy writes the client's address in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`, as nginx, HAProxy and most load balancers
    /// write it.
    #[default]
    XForwardedFor,
    /// RFC 7239's `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

/// The proxies whose forwarding header is believed, and which header that is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Believes `header` from peers in `networks`; with none, the peer is always the client.
    pub fn new(networks: Vec<IpNet>, header: ForwardedHeader) -> Self {
        Self { networks, header }
    }

    /// The client's address for a request from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }

        for hop in self.hops(headers).into_iter().rev() {
            let Some(hop) = hop else {
                return client;
            };
            client = hop;
            if !self.trusts(hop) {
                return hop;
            }
        }
        client
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.networks
            .iter()
            .any(|network| network.contains(&address))
    }

    /// Every entry of the configured header, left to right, each `None` when it is not an
    /// address.
    fn hops(&self, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
        let name = match self.header {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        };
        let values = headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().ok());

        let mut hops = Vec::new();
        for value in values {
            let Some(value) = value else {
                // A header that is not even text was still written last by the proxy.
                hops.push(None);
                continue;
            };
            for entry in value.split(',') {
                hops.push(match self.header {
                    ForwardedHeader::XForwardedFor => parse_node(entry),
                    ForwardedHeader::Forwarded => forwarded_for(entry),
                });
            }
        }
        hops
    }
}

/// The `for=` node of one `Forwarded` element, when it is an address.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim().eq_ignore_ascii_case("for").then_some(value)
    })?;
    parse_node(value.trim().trim_matches('"'))
}

/// An address as proxies write it: bare, with a port, or an IPv6 address in brackets with or
/// without one.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    let bracketed = text.strip_prefix('[')?.strip_suffix(']')?;
    bracketed
        .parse::<Ipv6Addr>()
        .ok()
        .map(|v6| IpAddr::V6(v6).to_canonical())
}

/// What a limit applies to: an IPv4 address, or the /64 network of an IPv6 address.
///
/// ```
/// # use latchkey_site::site::client::network;
/// assert_eq!(network("192.0.2.7".parse().unwrap()), "192.0.2.7");
/// assert_eq!(network("2001:db8:1:2:3:4:5:6".parse().unwrap()), "2001:db8:1:2::/64");
/// assert_eq!(network("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
/// ```
pub fn network(address: IpAddr) -> String {
    match address.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !u128::from(u64::MAX);
            format!("{}/64", Ipv6Addr::from(prefix))
        }
    }
}

/// The client of one request: its address and `User-Agent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Client {
    /// `None` when the server runs without connection info, as in some tests: every such
    /// request shares one limit.
    pub address: Option<IpAddr>,
    /// Shortened to 200 characters.
    pub user_agent: Option<String>,
}

impl Client {
    /// The key of the client's limits.
    pub(crate) fn network(&self) -> String {
        self.address.map_or_else(|| "unknown".to_owned(), network)
    }

    /// The address as text, for the audit log.
    pub(crate) fn address_text(&self) -> Option<String> {
        self.address.map(|address| address.to_string())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Through the extractor, which also finds `MockConnectInfo` in tests.
        let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .ok()
            .map(|ConnectInfo(peer)| peer.ip());
        let proxies = parts.extensions.get::<Arc<Guard>>().map(|g| g.proxies());
        let address = match (peer, proxies) {
            (Some(peer), Some(proxies)) => Some(proxies.client(peer, &parts.headers)),
            (peer, None) => peer.map(|peer| peer.to_canonical()),
            (None, Some(_)) => None,
        };
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(200).collect());
        Ok(Self {
            address,
            user_agent,
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    fn proxies(networks: &[&str], header: ForwardedHeader) -> TrustedProxies {
        let networks = networks.iter().map(|n| n.parse().expect("cidr")).collect();
        TrustedProxies::new(networks, header)
    }

    #[test]
    fn without_trusted_proxies_the_headers_are_ignored() {
        let forged = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=1.2.3.4"),
        ]);

        let client = TrustedProxies::default().client(ip("192.0.2.1"), &forged);

        assert_eq!(client, ip("192.0.2.1"));
    }

    #[test]
    fn a_peer_that_is_not_a_trusted_proxy_is_the_client_whatever_it_sends() {
        let trusted = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let forged = headers(&[("x-forwarded-for", "10.0.0.5")]);

        assert_eq!(trusted.client(ip("192.0.2.1"), &forged), ip("192.0.2.1"));
    }

    #[test]
    fn the_right_most_untrusted_entry_is_the_client() {
        let trusted = proxies(
            &["10.0.0.0/8", "2001:db8:ffff::/48"],
            ForwardedHeader::XForwardedFor,
        );
        let forwarded = headers(&[
            ("x-forwarded-for", "6.6.6.6, 198.51.100.4"),
            ("x-forwarded-for", "10.1.1.1, 2001:db8:ffff::1"),
        ]);

        assert_eq!(
            trusted.client(ip("10.0.0.2"), &forwarded),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn when_every_hop_is_trusted_the_left_most_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let forwarded = headers(&[("x-forwarded-for", "10.9.9.9, 10.1.1.1")]);

        assert_eq!(trusted.client(ip("10.0.0.2"), &forwarded), ip("10.9.9.9"));
        assert_eq!(
            trusted.client(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn garbage_written_by_a_trusted_hop_charges_that_hop() {
        let trusted = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let forwarded = headers(&[("x-forwarded-for", "198.51.100.4, unknown, 10.1.1.1")]);

        assert_eq!(trusted.client(ip("10.0.0.2"), &forwarded), ip("10.1.1.1"));
    }

    #[test]
    fn forwarded_nodes_are_read_with_ports_brackets_and_quotes() {
        let trusted = proxies(&["10.0.0.0/8"], ForwardedHeader::Forwarded);
        let cases = [
            ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
            ("For=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"),
            ("for=\"192.0.2.61:8080\", for=10.0.0.9", "192.0.2.61"),
            ("for=\"[2001:db8::1]\"", "2001:db8::1"),
        ];

        for (value, client) in cases {
            let forwarded = headers(&[("forwarded", value), ("x-forwarded-for", "6.6.6.6")]);
            assert_eq!(
                trusted.client(ip("10.0.0.2"), &forwarded),
                ip(client),
                "{value}"
            );
        }
        let hidden = headers(&[("forwarded", "for=198.51.100.1, for=_hidden")]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &hidden), ip("10.0.0.2"));
    }

    #[test]
    fn mapped_ipv4_peers_are_plain_ipv4() {
        let trusted = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let forwarded = headers(&[("x-forwarded-for", "::ffff:198.51.100.4")]);

        assert_eq!(
            trusted.client(ip("::ffff:10.0.0.2"), &forwarded),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64_network() {
        assert_eq!(network(ip("2001:db8:a:b:ffff::1")), "2001:db8:a:b::/64");
        assert_eq!(
            network(ip("2001:db8:a:b::2")),
            network(ip("2001:db8:a:b:1::"))
        );
        assert_ne!(
            network(ip("2001:db8:a:c::1")),
            network(ip("2001:db8:a:b::1"))
        );
    }
}
