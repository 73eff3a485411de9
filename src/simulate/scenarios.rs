//! The planted cases: what each scenario is, whether it is fraud, which detectors should
//! see it, and how many of each a population of a given size gets.

use serde::Serialize;

/// One kind of employee behaviour. `Baseline` is everybody not planted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// An ordinary employee at home in the claimed place and hours.
    Baseline,
    /// Legitimate: a few days abroad in hotels and airports; some trips approved in
    /// `approved-travel.csv`, some not.
    BusinessTravel,
    /// Legitimate: the roster shows the new city; the first days come from the old city in
    /// the same country.
    Relocated,
    /// Legitimate: most logins through the national mobile carrier's NAT, shared by many
    /// employees in different states.
    MobileCarrierNat,
    /// Legitimate: every login through the company VPN's egress in another country (listed
    /// in `corporate-egress.txt`).
    CorporateVpnEgress,
    /// Legitimate: roster `work_hours` 22:00-06:00 Sun-Thu, and works them.
    NightShift,
    /// Legitimate: one to two weeks working from a home network abroad, approved.
    ApprovedTrip,
    /// Fraud: claims the US, logs in through the consumer VPN and hosting addresses and
    /// sometimes directly from China, on China's working hours.
    VpnHostingChina,
    /// Fraud: three employees claiming different US states, all on one US residential
    /// address, working Korea hours.
    LaptopFarm,
    /// Fraud: claims America/New_York from a correct-looking US address, but works
    /// 09:00-18:00 Korea time (19:00-04:00 New York time) for weeks.
    HoursOnly,
    /// Fraud: logins from two continents within an hour (a shared account).
    TwoContinents,
    // The real world's scenarios (`--world real`), beside the ones above.
    /// Legitimate: shares the home connection with a colleague (a household).
    Household,
    /// Legitimate: some days from a co-working space's line shared with other members.
    Coworking,
    /// Legitimate: a consumer VPN for privacy on some sign-ins, mostly with an exit in the
    /// home country.
    ConsumerVpnUser,
    /// Legitimate: hired during the simulated period, so only a few days of history.
    NewHire,
    /// Fraud: signs in straight from Chinese or Russian home broadband (and phones), on
    /// Korea's working hours.
    DirectChinaRussia,
    /// Fraud: through servers of Chinese clouds (Alibaba, Tencent, Baidu, Huawei).
    ChinaCloud,
    /// Fraud: US-exit consumer VPN and VPS addresses, a different US city most days, on
    /// Korea's working hours.
    UsVpnHopping,
    /// Fraud: mostly US VPN exits, now and then straight from China or a Chinese cloud.
    Mixed,
}

impl Scenario {
    /// Every planted scenario, legitimate first.
    pub const PLANTED: [Scenario; 10] = [
        Scenario::BusinessTravel,
        Scenario::Relocated,
        Scenario::MobileCarrierNat,
        Scenario::CorporateVpnEgress,
        Scenario::NightShift,
        Scenario::ApprovedTrip,
        Scenario::VpnHostingChina,
        Scenario::LaptopFarm,
        Scenario::HoursOnly,
        Scenario::TwoContinents,
    ];

    /// The snake_case name used in `truth.json`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Baseline => "baseline",
            Scenario::BusinessTravel => "business_travel",
            Scenario::Relocated => "relocated",
            Scenario::MobileCarrierNat => "mobile_carrier_nat",
            Scenario::CorporateVpnEgress => "corporate_vpn_egress",
            Scenario::NightShift => "night_shift",
            Scenario::ApprovedTrip => "approved_trip",
            Scenario::VpnHostingChina => "vpn_hosting_china",
            Scenario::LaptopFarm => "laptop_farm",
            Scenario::HoursOnly => "hours_only",
            Scenario::TwoContinents => "two_continents",
            Scenario::Household => "household",
            Scenario::Coworking => "coworking",
            Scenario::ConsumerVpnUser => "consumer_vpn_user",
            Scenario::NewHire => "new_hire",
            Scenario::DirectChinaRussia => "direct_china_russia",
            Scenario::ChinaCloud => "china_cloud",
            Scenario::UsVpnHopping => "us_vpn_hopping",
            Scenario::Mixed => "mixed",
        }
    }

    /// Is this a fraudulent worker (every one must be alerted)?
    pub fn is_fraudulent(self) -> bool {
        matches!(
            self,
            Scenario::VpnHostingChina
                | Scenario::LaptopFarm
                | Scenario::HoursOnly
                | Scenario::TwoContinents
                | Scenario::DirectChinaRussia
                | Scenario::ChinaCloud
                | Scenario::UsVpnHopping
                | Scenario::Mixed
        )
    }

    /// Detectors that see the behaviour. For a fraudulent worker: the rules expected to
    /// alert. For a legitimate one: the rules whose input the behaviour reaches and which
    /// must stay below high severity (suppressed, exempt or explained by context).
    pub fn expected_rules(self) -> &'static [&'static str] {
        match self {
            Scenario::Baseline => &[],
            Scenario::BusinessTravel => &["claimed_location", "novelty"],
            Scenario::Relocated => &["claimed_location"],
            Scenario::MobileCarrierNat => &["shared_infrastructure", "impossible_travel"],
            Scenario::CorporateVpnEgress => &["claimed_location", "shared_infrastructure"],
            Scenario::NightShift => &["working_hours"],
            Scenario::ApprovedTrip => &["claimed_location", "novelty"],
            Scenario::VpnHostingChina => &[
                "anonymizer",
                "claimed_location",
                "working_hours",
                "impossible_travel",
                "novelty",
            ],
            Scenario::LaptopFarm => &["shared_infrastructure", "claimed_location", "working_hours"],
            Scenario::HoursOnly => &["working_hours"],
            Scenario::TwoContinents => &[
                "impossible_travel",
                "concurrent_sessions",
                "claimed_location",
            ],
            Scenario::Household => &["shared_infrastructure"],
            Scenario::Coworking => &["shared_infrastructure", "claimed_location"],
            Scenario::ConsumerVpnUser => &["anonymizer", "claimed_location"],
            Scenario::NewHire => &[],
            Scenario::DirectChinaRussia => &["claimed_location", "working_hours"],
            Scenario::ChinaCloud => &["anonymizer", "claimed_location", "working_hours"],
            Scenario::UsVpnHopping => &["anonymizer", "working_hours", "impossible_travel"],
            Scenario::Mixed => &["anonymizer", "claimed_location", "working_hours"],
        }
    }

    /// The real world's planted scenarios (`--world real`), legitimate first: the
    /// synthetic world's without its China mix, plus households, co-working, privacy VPN
    /// users, new hires and the fraud the public reporting describes.
    pub const PLANTED_REAL: [Scenario; 17] = [
        Scenario::BusinessTravel,
        Scenario::Relocated,
        Scenario::MobileCarrierNat,
        Scenario::CorporateVpnEgress,
        Scenario::NightShift,
        Scenario::ApprovedTrip,
        Scenario::Household,
        Scenario::Coworking,
        Scenario::ConsumerVpnUser,
        Scenario::NewHire,
        Scenario::DirectChinaRussia,
        Scenario::ChinaCloud,
        Scenario::UsVpnHopping,
        Scenario::LaptopFarm,
        Scenario::HoursOnly,
        Scenario::TwoContinents,
        Scenario::Mixed,
    ];

    /// How many employees a real-world population of `n` gets: the synthetic counts for the
    /// scenarios both worlds have, the seed's rates for the noise, and 1.5 to 2 per
    /// thousand of each fraud (a farm is three).
    pub fn planted_real(self, n: u32, rates: &super::real::Rates) -> u32 {
        let share = match self {
            // A household is two colleagues: the rate counts both.
            Scenario::Household => rates.households,
            Scenario::Coworking => rates.coworking,
            Scenario::ConsumerVpnUser => rates.consumer_vpn_users,
            Scenario::NewHire => rates.new_hires,
            Scenario::DirectChinaRussia | Scenario::UsVpnHopping => 0.002,
            Scenario::ChinaCloud | Scenario::Mixed => 0.0015,
            Scenario::LaptopFarm | Scenario::HoursOnly | Scenario::TwoContinents => {
                return self.planted(n);
            }
            Scenario::VpnHostingChina | Scenario::Baseline => return 0,
            other => return other.planted(n),
        };
        let k = ((f64::from(n) * share).round() as u32).max(1);
        if self == Scenario::Household {
            (k / 2).max(1) * 2
        } else {
            k
        }
    }

    /// How many employees a population of `n` gets: a few per thousand, at least one (a
    /// laptop farm is always three: one address, three identities).
    pub fn planted(self, n: u32) -> u32 {
        let per_thousand = match self {
            Scenario::Baseline => 0.0,
            Scenario::BusinessTravel => 10.0,
            Scenario::Relocated => 3.0,
            Scenario::MobileCarrierNat => 30.0,
            Scenario::CorporateVpnEgress => 25.0,
            Scenario::NightShift => 5.0,
            Scenario::ApprovedTrip => 4.0,
            Scenario::VpnHostingChina | Scenario::HoursOnly | Scenario::TwoContinents => 1.5,
            Scenario::LaptopFarm => return 3 * (n / 1000).max(1),
            // Real-world scenarios: counted by `planted_real`.
            Scenario::Household
            | Scenario::Coworking
            | Scenario::ConsumerVpnUser
            | Scenario::NewHire
            | Scenario::DirectChinaRussia
            | Scenario::ChinaCloud
            | Scenario::UsVpnHopping
            | Scenario::Mixed => 0.0,
        };
        ((f64::from(n) * per_thousand / 1000.0).round() as u32).max(1)
    }

    /// Employees every planted scenario needs together.
    pub fn planted_total(n: u32) -> u32 {
        Scenario::PLANTED.iter().map(|s| s.planted(n)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_scale_and_never_vanish() {
        for s in Scenario::PLANTED {
            assert!(s.planted(20) >= 1, "{s:?}");
            assert!(s.planted(20_000) >= s.planted(2_000));
        }
        assert_eq!(Scenario::LaptopFarm.planted(60), 3);
        assert_eq!(Scenario::LaptopFarm.planted(2_000), 6);
        assert_eq!(Scenario::MobileCarrierNat.planted(2_000), 60);
    }

    #[test]
    fn every_fraud_names_rules() {
        for s in Scenario::PLANTED {
            assert!(!s.expected_rules().is_empty(), "{s:?}");
        }
        assert!(Scenario::HoursOnly.is_fraudulent());
        assert!(!Scenario::NightShift.is_fraudulent());
    }
}
