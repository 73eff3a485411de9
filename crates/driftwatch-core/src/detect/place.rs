//! Places and distances shared by the location detectors.

use crate::enrich::Geo;
use crate::roster::ClaimedProfile;

/// Mean Earth radius used by the haversine formula, in km.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// A point on Earth, degrees.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
}

impl Point {
    /// Great-circle distance in km (haversine).
    pub fn distance_km(self, other: Point) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }
}

/// Where the address geolocates, when the City database says.
pub fn of_geo(geo: &Geo) -> Option<Point> {
    Some(Point {
        lat: geo.latitude?,
        lon: geo.longitude?,
    })
}

/// Where the employee claims to be, when the roster gives coordinates.
pub fn of_profile(profile: &ClaimedProfile) -> Option<Point> {
    profile.point.map(|(lat, lon)| Point { lat, lon })
}

/// `Shenyang, CN (AS64510 Demo Cloud), accuracy ±50 km`: where an address is, for a
/// summary. Shared by the location rules so every alert names a place alike.
pub fn seen_place(geo: &Geo) -> String {
    let network = match (geo.asn, geo.as_org.as_deref()) {
        (Some(asn), Some(org)) => format!(" (AS{asn} {org})"),
        (Some(asn), None) => format!(" (AS{asn})"),
        _ => String::new(),
    };
    let accuracy = geo
        .accuracy_km
        .map(|km| format!(", accuracy ±{km} km"))
        .unwrap_or_default();
    let country = geo.country.as_deref().unwrap_or("an unknown country");
    format!(
        "{}{network}{accuracy}",
        place_name(geo.city.as_deref(), country)
    )
}

/// `New York, US`: the employee's claimed place, for a summary.
pub fn claimed_place(profile: &ClaimedProfile) -> String {
    place_name(profile.city.as_deref(), &profile.country)
}

fn place_name(city: Option<&str>, country: &str) -> String {
    match city {
        Some(c) => format!("{c}, {country}"),
        None => country.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_distances() {
        let new_york = Point {
            lat: 40.7128,
            lon: -74.006,
        };
        let london = Point {
            lat: 51.5074,
            lon: -0.1278,
        };
        let d = new_york.distance_km(london);
        assert!((d - 5570.0).abs() < 15.0, "{d}");
        assert_eq!(new_york.distance_km(new_york), 0.0);
        // Antipodes stay finite.
        let d = Point { lat: 0.0, lon: 0.0 }.distance_km(Point {
            lat: 0.0,
            lon: 180.0,
        });
        assert!((d - 20015.0).abs() < 5.0, "{d}");
    }
}
