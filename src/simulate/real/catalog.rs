//! The real networks the real world is built from: autonomous systems by the role they play
//! for the simulated people (home broadband, phone, office, hosting, VPN exit), with the
//! countries whose address blocks are used.
//!
//! Every number is a real AS number as RouteViews and the RIRs publish it (the
//! `@ip-location-db/asn` CSV); the names are what that CSV calls them. The list was chosen
//! for size and plausibility (the largest broadband and mobile operators of each country of
//! the simulated company, the clouds and VPS providers the public reporting names), not
//! from any list driftwatch ships: a deployment's lists must earn their keep against it.

/// What the simulated people use a network for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Home broadband (cable, DSL, fibre).
    Residential,
    /// A mobile operator's carrier-grade NAT.
    Mobile,
    /// Business lines: offices, co-working spaces, hotels and airports.
    Business,
    /// Cloud and VPS providers.
    Hosting,
    /// Servers of consumer VPN brands (shared hosting networks that carry many brands).
    ConsumerVpn,
    /// A secure web gateway the company sends its VPN traffic out through.
    CorporateEgress,
}

/// One autonomous system of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub asn: u32,
    pub role: Role,
    /// Countries (ISO 3166-1 alpha-2) whose blocks of this system are used, as the City
    /// database places them.
    pub countries: &'static [&'static str],
    /// Why it is here, in a few words.
    pub note: &'static str,
}

const fn e(asn: u32, role: Role, countries: &'static [&'static str], note: &'static str) -> Entry {
    Entry {
        asn,
        role,
        countries,
        note,
    }
}

use Role::*;

/// The catalogue. Home countries first (broadband, then mobile), then the rest.
#[rustfmt::skip]
pub const CATALOG: &[Entry] = &[
    // United States
    e(7922, Residential, &["US"], "Comcast Cable"),
    e(7018, Residential, &["US"], "AT&T"),
    e(20115, Residential, &["US"], "Charter Spectrum"),
    e(22773, Residential, &["US"], "Cox"),
    e(701, Residential, &["US"], "Verizon Fios"),
    e(21928, Mobile, &["US"], "T-Mobile USA"),
    e(6167, Mobile, &["US"], "Verizon Wireless (Cellco)"),
    e(20057, Mobile, &["US"], "AT&T Mobility"),
    // Canada
    e(812, Residential, &["CA"], "Rogers"),
    e(577, Residential, &["CA"], "Bell Canada"),
    e(6327, Residential, &["CA"], "Shaw"),
    e(852, Mobile, &["CA"], "TELUS"),
    e(36522, Mobile, &["CA"], "Bell Mobility"),
    // United Kingdom
    e(2856, Residential, &["GB"], "BT"),
    e(5089, Residential, &["GB"], "Virgin Media"),
    e(13285, Residential, &["GB"], "TalkTalk"),
    e(206067, Mobile, &["GB"], "Three UK"),
    e(35228, Mobile, &["GB"], "O2 UK"),
    e(25135, Mobile, &["GB"], "Vodafone UK"),
    // Ireland
    e(5466, Residential, &["IE"], "Eir"),
    e(6830, Residential, &["IE"], "Virgin Media Ireland (Liberty Global)"),
    e(15502, Mobile, &["IE"], "Vodafone Ireland"),
    e(13280, Mobile, &["IE"], "Three Ireland"),
    // Germany
    e(3320, Residential, &["DE"], "Deutsche Telekom"),
    e(3209, Residential, &["DE"], "Vodafone Germany"),
    e(8881, Residential, &["DE"], "1&1 Versatel"),
    e(6805, Mobile, &["DE"], "Telefonica Germany (O2)"),
    // France
    e(3215, Residential, &["FR"], "Orange"),
    e(12322, Residential, &["FR"], "Free"),
    e(15557, Residential, &["FR"], "SFR"),
    e(51207, Mobile, &["FR"], "Free Mobile"),
    e(5410, Mobile, &["FR"], "Bouygues Telecom"),
    // Poland
    e(5617, Residential, &["PL"], "Orange Polska"),
    e(6830, Residential, &["PL"], "UPC Polska (Liberty Global)"),
    e(12912, Mobile, &["PL"], "T-Mobile Polska"),
    e(39603, Mobile, &["PL"], "Play (P4)"),
    e(8374, Mobile, &["PL"], "Plus (Polkomtel)"),
    // Spain
    e(3352, Residential, &["ES"], "Telefonica Spain (Movistar)"),
    e(12479, Residential, &["ES"], "Orange Spain"),
    e(12430, Mobile, &["ES"], "Vodafone Spain"),
    // Portugal
    e(3243, Residential, &["PT"], "MEO"),
    e(2860, Residential, &["PT"], "NOS"),
    e(12353, Mobile, &["PT"], "Vodafone Portugal"),
    // Netherlands
    e(1136, Residential, &["NL"], "KPN"),
    e(33915, Residential, &["NL"], "VodafoneZiggo"),
    e(50266, Mobile, &["NL"], "Odido (T-Mobile NL)"),
    e(31615, Mobile, &["NL"], "Odido (T-Mobile NL)"),
    // India
    e(24560, Residential, &["IN"], "Airtel broadband"),
    e(17488, Residential, &["IN"], "Hathway"),
    e(9829, Residential, &["IN"], "BSNL"),
    e(55836, Mobile, &["IN"], "Reliance Jio"),
    e(45609, Mobile, &["IN"], "Airtel mobile"),
    e(38266, Mobile, &["IN"], "Vodafone Idea"),
    // Brazil
    e(28573, Residential, &["BR"], "Claro NET"),
    e(18881, Residential, &["BR"], "Vivo (Telefonica Brasil)"),
    e(26599, Mobile, &["BR"], "Vivo mobile (Telefonica Brasil)"),
    e(26615, Mobile, &["BR"], "TIM Brasil"),
    // Mexico
    e(8151, Residential, &["MX"], "Telmex (Uninet)"),
    e(28548, Residential, &["MX"], "izzi (Cablevision)"),
    e(28403, Mobile, &["MX"], "Telcel (Radiomovil Dipsa)"),
    // Argentina
    e(7303, Residential, &["AR"], "Telecom Argentina"),
    e(22927, Residential, &["AR"], "Telefonica de Argentina"),
    e(11664, Mobile, &["AR"], "Claro Argentina (AMX)"),
    // Japan
    e(4713, Residential, &["JP"], "NTT OCN"),
    e(2516, Residential, &["JP"], "KDDI"),
    e(17676, Residential, &["JP"], "SoftBank"),
    e(9605, Mobile, &["JP"], "NTT Docomo"),
    // Australia
    e(1221, Residential, &["AU"], "Telstra"),
    e(7545, Residential, &["AU"], "TPG"),
    e(4804, Mobile, &["AU"], "Optus"),
    e(133612, Mobile, &["AU"], "Vodafone Australia"),
    // Philippines
    e(9299, Residential, &["PH"], "PLDT"),
    e(4775, Residential, &["PH"], "Globe Telecom"),
    e(132199, Mobile, &["PH"], "Globe mobile"),
    e(10139, Mobile, &["PH"], "Smart"),
    // Where the operators really are (Mandiant UNC5267, Microsoft Jasper Sleet): China and
    // Russia, straight from home broadband and phones.
    e(4134, Residential, &["CN"], "China Telecom (Chinanet)"),
    e(4837, Residential, &["CN"], "China Unicom"),
    e(9808, Mobile, &["CN"], "China Mobile"),
    e(12389, Residential, &["RU"], "Rostelecom"),
    e(8359, Residential, &["RU"], "MTS"),
    e(3216, Residential, &["RU"], "Beeline (Vimpelcom)"),
    e(31133, Mobile, &["RU"], "MegaFon"),
    // Travel destinations and the company's offices: business lines.
    e(3356, Business, &["US", "GB", "DE", "NL", "FR"], "Lumen (Level 3)"),
    e(174, Business, &["US", "CA", "GB", "DE", "NL", "FR", "ES", "PT", "MX", "JP", "SG", "PL"], "Cogent"),
    e(4755, Business, &["IN"], "Tata Communications"),
    e(7473, Business, &["SG"], "Singtel"),
    e(3758, Business, &["SG"], "SingNet"),
    e(4760, Business, &["HK"], "PCCW (HKT)"),
    e(5384, Business, &["AE"], "Etisalat"),
    e(15802, Business, &["AE"], "du"),
    e(4766, Business, &["KR"], "Korea Telecom"),
    e(2856, Business, &["GB"], "BT Business"),
    e(3320, Business, &["DE"], "Deutsche Telekom Business"),
    e(3215, Business, &["FR"], "Orange Business"),
    e(1136, Business, &["NL"], "KPN Zakelijk"),
    e(3243, Business, &["PT"], "MEO Empresas"),
    e(4713, Business, &["JP"], "NTT Communications"),
    e(1221, Business, &["AU"], "Telstra Business"),
    e(577, Business, &["CA"], "Bell Business"),
    e(8151, Business, &["MX"], "Telmex empresas"),
    e(5617, Business, &["PL"], "Orange Polska Biznes"),
    // Chinese clouds (public reporting: Alibaba, Tencent, Baidu and Huawei ranges used by
    // DPRK IT workers' infrastructure), and Russian hosting.
    e(37963, Hosting, &["CN"], "Alibaba Cloud (Hangzhou Alibaba Advertising)"),
    e(45102, Hosting, &["CN", "HK", "SG", "US"], "Alibaba Cloud (Alibaba US Technology)"),
    e(45090, Hosting, &["CN"], "Tencent Cloud"),
    e(132203, Hosting, &["CN", "HK", "SG"], "Tencent Cloud (global)"),
    e(38365, Hosting, &["CN"], "Baidu"),
    e(55967, Hosting, &["CN"], "Baidu"),
    e(55990, Hosting, &["CN"], "Huawei Cloud"),
    e(136907, Hosting, &["CN", "HK", "SG"], "Huawei Clouds"),
    e(49505, Hosting, &["RU"], "Selectel"),
    e(9123, Hosting, &["RU"], "Timeweb"),
    // VPS providers with US data centres (fraud hops between them).
    e(14061, Hosting, &["US", "NL", "SG", "DE", "GB"], "DigitalOcean"),
    e(20473, Hosting, &["US", "NL", "SG", "DE", "GB", "JP"], "Vultr (The Constant Company)"),
    e(63949, Hosting, &["US", "NL", "SG", "DE", "GB", "JP"], "Linode (Akamai)"),
    e(16276, Hosting, &["US", "CA", "FR", "DE", "GB", "PL", "SG"], "OVH"),
    // Consumer VPN servers: shared hosting networks that carry many VPN brands, and two
    // brands' own networks.
    e(9009, ConsumerVpn, &["US", "GB", "DE", "NL", "FR", "ES", "PL", "CA", "JP", "SG", "HK", "AU", "IN", "BR", "MX"], "M247 (NordVPN, Surfshark and others)"),
    e(212238, ConsumerVpn, &["US", "GB", "DE", "NL", "FR", "ES", "PL", "CA", "JP", "SG", "HK", "AU", "BR", "MX", "AR"], "Datacamp / CDN77 (many VPN brands)"),
    e(60068, ConsumerVpn, &["US", "GB", "DE", "NL", "FR", "JP", "SG", "HK"], "Datacamp / CDN77"),
    e(136787, ConsumerVpn, &["US", "GB", "DE", "NL", "FR", "ES", "PL", "CA", "JP", "SG", "AU", "IN", "BR"], "PacketHub (NordVPN)"),
    e(39351, ConsumerVpn, &["SE", "US", "GB", "DE", "NL"], "31173 Services (Mullvad)"),
    e(62371, ConsumerVpn, &["CH", "US", "NL", "DE"], "Proton AG (Proton VPN)"),
    // The company's secure web gateway, through which its VPN egresses.
    e(53813, CorporateEgress, &["US", "NL", "GB", "DE", "IN"], "Zscaler"),
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::simulate::world::{PLACES, PlaceRole};

    #[test]
    fn every_home_country_has_broadband_and_phones() {
        let homes: HashSet<&str> = PLACES
            .iter()
            .filter(|p| matches!(p.role, PlaceRole::Home(_)))
            .map(|p| p.country)
            .collect();
        for c in homes.iter().chain(["CN", "RU"].iter()) {
            for role in [Residential, Mobile] {
                assert!(
                    CATALOG
                        .iter()
                        .any(|e| e.role == role && e.countries.contains(c)),
                    "{c} has no {role:?} network"
                );
            }
        }
    }

    #[test]
    fn an_entry_appears_once_per_role() {
        let mut seen = HashSet::new();
        for e in CATALOG {
            for c in e.countries {
                assert!(seen.insert((e.asn, e.role, *c)), "AS{} {c} twice", e.asn);
            }
        }
    }
}
