//! The validating newtypes (`Digest`, `ChainId`, `CacheKey`), image-name
//! helpers and the default-root rule.

use std::ffi::OsString;
use std::path::PathBuf;

use rdock_cache::{
    chain_ids, ref_name_of, Algorithm, CacheKey, ChainId, Digest, Error, Hasher, RootEnv,
};

const EMPTY_SHA256: &str =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn digest_parses_and_prints_canonical_form() {
    let d: Digest = EMPTY_SHA256.parse().unwrap();
    assert_eq!(d.algorithm(), Algorithm::Sha256);
    assert_eq!(d.hex(), &EMPTY_SHA256[7..]);
    assert_eq!(d.to_string(), EMPTY_SHA256);
    assert_eq!(format!("{d:?}"), format!("Digest({EMPTY_SHA256})"));
    assert_eq!(
        d.blob_path(),
        PathBuf::from("blobs/sha256").join(&EMPTY_SHA256[7..])
    );
}

#[test]
fn digest_hashes_known_vectors() {
    assert_eq!(Digest::sha256(b"").to_string(), EMPTY_SHA256);
    let abc = Digest::of(Algorithm::Sha512, b"abc");
    assert_eq!(
        abc.to_string(),
        "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
         2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    );
    assert_eq!(abc.to_string().parse::<Digest>().unwrap(), abc);
    let mut hasher = Hasher::new(Algorithm::Sha256);
    hasher.update(b"a");
    hasher.update(b"bc");
    assert_eq!(hasher.finish(), Digest::sha256(b"abc"));
}

#[test]
fn digest_rejects_non_canonical_text_with_stable_messages() {
    let hex = &EMPTY_SHA256[7..];
    let cases = [
        ("", "missing ':'"),
        ("e3b0c442", "missing ':'"),
        (&format!("SHA256:{hex}"), "unsupported algorithm"),
        (&format!("md5:{hex}"), "unsupported algorithm"),
        (&format!("sha384:{hex}"), "unsupported algorithm"),
        ("sha256:", "wrong length for the algorithm"),
        (&format!("sha256:{hex}0"), "wrong length for the algorithm"),
        (&format!("sha512:{hex}"), "wrong length for the algorithm"),
        (
            &format!("sha256:{}", hex.to_uppercase()),
            "hash is not lowercase hex",
        ),
        (
            &format!("sha256:{}g", &hex[1..]),
            "hash is not lowercase hex",
        ),
        (&format!(" sha256:{hex}"), "unsupported algorithm"),
    ];
    for (input, reason) in cases {
        match input.parse::<Digest>() {
            Err(Error::InvalidDigest {
                input: got,
                reason: r,
            }) => {
                assert_eq!((got.as_str(), r), (input, reason), "{input:?}")
            }
            other => panic!("{input:?}: expected InvalidDigest, got {other:?}"),
        }
    }
    let err = "sha256:xyz".parse::<Digest>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid digest \"sha256:xyz\": wrong length for the algorithm"
    );
}

#[test]
fn digest_serde_and_oci_spec_round_trip() {
    let d = Digest::sha256(b"x");
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(json, format!("\"{d}\""));
    assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
    assert!(serde_json::from_str::<Digest>("\"sha256:00\"").is_err());
    let oci = d.to_oci();
    assert_eq!(oci.to_string(), d.to_string());
    assert_eq!(Digest::try_from(&oci).unwrap(), d);
    let sha384: rdock_cache::oci_spec::image::Digest =
        format!("sha384:{}", "a".repeat(96)).parse().unwrap();
    assert!(Digest::try_from(&sha384).is_err());
}

#[test]
fn digests_order_by_algorithm_then_hex() {
    let mut v = [
        Digest::of(Algorithm::Sha512, b"a"),
        "sha256:ff00000000000000000000000000000000000000000000000000000000000000"
            .parse()
            .unwrap(),
        "sha256:0000000000000000000000000000000000000000000000000000000000000000"
            .parse()
            .unwrap(),
    ];
    v.sort();
    assert_eq!(v[0].hex().as_bytes()[0], b'0');
    assert_eq!(v[2].algorithm(), Algorithm::Sha512);
}

fn d(s: &str) -> Digest {
    s.parse().unwrap()
}

#[test]
fn chain_ids_follow_the_oci_formula() {
    // Expected values computed independently with
    // printf '%s %s' "$parent" "$diff_id" | sha256sum
    let a = d("sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb");
    let b = d("sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d");
    let c = d("sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6");
    let chains = chain_ids(&[a.clone(), b.clone(), c.clone()]);
    let expected = [
        a.to_string(),
        "sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676".to_owned(),
        "sha256:2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106".to_owned(),
    ];
    let got: Vec<String> = chains.iter().map(ToString::to_string).collect();
    assert_eq!(got, expected);
    assert_eq!(ChainId::base(&a).child(&b), chains[1]);
    assert!(chain_ids(&[]).is_empty());
    let parsed: ChainId = expected[2].parse().unwrap();
    assert_eq!(parsed, chains[2]);
    assert_eq!(
        serde_json::to_string(&parsed).unwrap(),
        format!("\"{}\"", expected[2])
    );
}

#[test]
fn cache_keys_are_sha256_digests() {
    let key = CacheKey::of(b"step");
    assert_eq!(key.digest(), &Digest::sha256(b"step"));
    assert_eq!(key.to_string().parse::<CacheKey>().unwrap(), key);
    let json = serde_json::to_string(&key).unwrap();
    assert_eq!(serde_json::from_str::<CacheKey>(&json).unwrap(), key);
    let sha512 = Digest::of(Algorithm::Sha512, b"step");
    assert!(matches!(
        CacheKey::from_digest(sha512.clone()),
        Err(Error::InvalidCacheKey { .. })
    ));
    assert!(matches!(
        sha512.to_string().parse::<CacheKey>(),
        Err(Error::InvalidCacheKey { .. })
    ));
    assert!(serde_json::from_str::<CacheKey>(&format!("\"{sha512}\"")).is_err());
    match "nope".parse::<CacheKey>() {
        Err(Error::InvalidCacheKey { reason, .. }) => assert_eq!(reason, "missing ':'"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ref_name_is_the_tag() {
    let cases = [
        ("docker.io/library/busybox:latest", Some("latest")),
        ("localhost:5000/app:v1.2", Some("v1.2")),
        ("localhost:5000/app", None),
        ("busybox", None),
        ("busybox:", None),
        ("docker.io/library/busybox@sha256:abc", None),
        ("app:1@sha256:abc", None),
    ];
    for (name, tag) in cases {
        assert_eq!(ref_name_of(name), tag, "{name}");
    }
}

fn os(s: &str) -> Option<OsString> {
    Some(OsString::from(s))
}

#[test]
fn default_root_rules() {
    let user = RootEnv {
        rdock_root: None,
        is_root: false,
        xdg_data_home: os("/xdg"),
        home: os("/home/u"),
    };
    assert_eq!(user.root_dir().unwrap(), PathBuf::from("/xdg/rdock"));
    let env = RootEnv {
        rdock_root: os("/custom"),
        is_root: true,
        ..user.clone()
    };
    assert_eq!(env.root_dir().unwrap(), PathBuf::from("/custom"));
    let env = RootEnv {
        is_root: true,
        ..user.clone()
    };
    assert_eq!(env.root_dir().unwrap(), PathBuf::from("/var/lib/rdock"));
    let env = RootEnv {
        rdock_root: os(""),
        xdg_data_home: os("relative/ignored"),
        ..user.clone()
    };
    assert_eq!(
        env.root_dir().unwrap(),
        PathBuf::from("/home/u/.local/share/rdock")
    );
    let env = RootEnv {
        xdg_data_home: os(""),
        ..user.clone()
    };
    assert_eq!(
        env.root_dir().unwrap(),
        PathBuf::from("/home/u/.local/share/rdock")
    );
    assert!(matches!(
        RootEnv::default().root_dir(),
        Err(Error::NoRootDir)
    ));
}
