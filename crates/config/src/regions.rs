//! The AWS Regions this release knows by name (commercial, GovCloud, China, the European
//! Sovereign Cloud and the isolated Regions), so a typo'd Region is caught before the outage.
//! A Region newer than this list is allowed with `allow_unknown_region = true`; docs/configuration.md
//! says so.

/// Every Region name known to this release.
pub const KNOWN: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-isoe-west-1",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eusc-de-east-1",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-iso-east-1",
    "us-iso-west-1",
    "us-isob-east-1",
    "us-isof-east-1",
    "us-isof-south-1",
    "us-west-1",
    "us-west-2",
];

/// The known Region closest to `name` by edit distance, when it is close (a typo).
pub fn nearest(name: &str) -> Option<&'static str> {
    KNOWN
        .iter()
        .map(|known| (distance(name, known), *known))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, known)| known)
}

/// Levenshtein distance, over bytes (Region names are ASCII).
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, y) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(x != y);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_and_typos_find_their_region() {
        assert!(KNOWN.windows(2).all(|pair| pair[0] < pair[1]), "keep KNOWN sorted");
        assert_eq!(nearest("ap-northeast-4"), Some("ap-northeast-1"));
        assert_eq!(nearest("ap-notheast-1"), Some("ap-northeast-1"));
        assert_eq!(nearest("xx-nowhere-9"), None);
    }
}
