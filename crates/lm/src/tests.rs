use super::*;

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("svalbard-lm-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn corpus3() -> Vec<String> {
    vec!["A b.".into(), "a c!".into(), "B c".into()]
}

fn opts2() -> TrainOptions {
    TrainOptions { order: 2, min_count: 1, max_vocab: None, prune: vec![], discount_override: Some([0.5, 1.0, 1.5]) }
}

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol, "{a} vs {b} (tol {tol})");
}

/// Hand-computed interpolated modified KN bigram model.
///
/// Sentences: `<s> a b </s>`, `<s> a c </s>`, `<s> b c </s>`; D1=0.5, D2=1.0, D3+=1.5.
///
/// Unigram continuation counts N1+(• w): a=1 ({<s>}), b=2 ({a,<s>}), c=2 ({a,b}),
/// </s>=2 ({b,c}), <unk>=0. Total T=7; n1=1, n2=3 → γ(ε) = (0.5·1 + 1.0·3)/7 = 0.5.
/// |V| = 5 (</s>, <unk>, a, b, c) → uniform share 0.5/5 = 0.1.
///   p(a) = (1-0.5)/7 + 0.1 = 0.171428571…   p(b)=p(c)=p(</s>) = (2-1)/7 + 0.1 = 0.242857142…
///   p(<unk>) = 0.1                            (sum = 1)
/// Bigram raw counts: <s> a=2, <s> b=1, a b=1, a c=1, b </s>=1, b c=1, c </s>=2.
///   ctx <s>: Σ=3, N1=1, N2=1 → γ = (0.5+1.0)/3 = 0.5
///     p(a|<s>) = (2-1)/3 + 0.5·p(a) = 0.419047619…   p(b|<s>) = 0.5/3 + 0.5·p(b) = 0.288095238…
///   ctx a: Σ=2, N1=2 → γ = 0.5;  p(b|a) = p(c|a) = 0.5/2 + 0.5·p(b) = 0.371428571…
///   ctx b: Σ=2, N1=2 → γ = 0.5;  p(</s>|b) = p(c|b) = 0.371428571…
///   ctx c: Σ=2, N2=1 → γ = 0.5;  p(</s>|c) = (2-1)/2 + 0.5·p(</s>) = 0.621428571…
///   unseen: p(a|c) = γ(c)·p(a) = 0.085714285…;  p(<unk>|a) = 0.5·0.1 = 0.05;
///   <unk> is never a context → backoff 1: p(</s>|<unk>) = p(</s>).
#[test]
fn hand_checked_bigram_kn() {
    let (m, s) = NgramModel::train(corpus3(), &opts2()).unwrap();
    assert_eq!(s.sentences, 3);
    assert_eq!(s.words, 6);
    assert_eq!(s.vocab_size, 6);
    let pa: f64 = 0.5 / 7.0 + 0.1;
    let pb: f64 = 1.0 / 7.0 + 0.1;
    let lp = |c: &[&str], w: &str| m.log10_prob(c, w) as f64;
    let tol = 1e-6;
    close(lp(&[], "a"), pa.log10(), tol);
    close(lp(&[], "b"), pb.log10(), tol);
    close(lp(&[], "</s>"), pb.log10(), tol);
    close(lp(&[], "<unk>"), 0.1f64.log10(), tol);
    close(lp(&[], "zebra"), 0.1f64.log10(), tol);
    close(lp(&["<s>"], "a"), (1.0 / 3.0 + 0.5 * pa).log10(), tol);
    close(lp(&["<s>"], "b"), (0.5 / 3.0 + 0.5 * pb).log10(), tol);
    close(lp(&["<s>"], "c"), (0.5 * pb).log10(), tol);
    close(lp(&["a"], "b"), (0.25 + 0.5 * pb).log10(), tol);
    close(lp(&["a"], "c"), (0.25 + 0.5 * pb).log10(), tol);
    close(lp(&["b"], "</s>"), (0.25 + 0.5 * pb).log10(), tol);
    close(lp(&["c"], "</s>"), (0.5 + 0.5 * pb).log10(), tol);
    close(lp(&["c"], "a"), (0.5 * pa).log10(), tol);
    close(lp(&["a"], "zebra"), (0.05f64).log10(), tol);
    close(lp(&["zebra"], "</s>"), pb.log10(), tol);

    // Document score: "a b." = p(a|<s>) p(b|a) p(</s>|b); "A zebra!" = p(a|<s>) p(<unk>|a) p(</s>|<unk>).
    let s1 = (1.0 / 3.0 + 0.5 * pa).log10() + 2.0 * (0.25 + 0.5 * pb).log10();
    let s2 = (1.0 / 3.0 + 0.5 * pa).log10() + 0.05f64.log10() + pb.log10();
    let d = m.score("a b. A zebra!");
    assert_eq!(d.n_tokens, 6);
    assert_eq!(d.n_sentences, 2);
    close(d.log10_prob, s1 + s2, 1e-5);
    close(d.perplexity, 10f64.powf(-(s1 + s2) / 6.0), 1e-4);
    let (l1, l2) = (-s1 / 3.0, -s2 / 3.0);
    close(d.sent_logppl_mean, (l1 + l2) / 2.0, 1e-6);
    close(d.sent_logppl_std, (l1 - l2).abs() / 2.0, 1e-6);
}

#[test]
fn discount_formula() {
    // Y = 10/(10+2·5) = 0.5; D1 = 1-2·0.5·5/10 = 0.5; D2 = 2-3·0.5·3/5 = 1.1; D3 = 3-4·0.5·2/3 = 1.6667
    let d = train::kn_discounts([0, 10, 5, 3, 2]);
    close(d[0], 0.5, 1e-12);
    close(d[1], 1.1, 1e-12);
    close(d[2], 3.0 - 4.0 / 3.0, 1e-12);
    // undefined (n3 = 0) → fallback for D3 only... and D2 = 2 - 0 = 2 is valid
    let d = train::kn_discounts([0, 4, 1, 0, 0]);
    close(d[1], 2.0, 1e-12);
    close(d[2], 1.5, 1e-12);
}

#[test]
fn empty_text() {
    let (m, _) = NgramModel::train(corpus3(), &opts2()).unwrap();
    for t in ["", "   ", "... !!! ?\n\n", "— – «»"] {
        let d = m.score(t);
        assert_eq!(d.n_tokens, 0);
        assert_eq!(d.n_sentences, 0);
        assert_eq!(d.log10_prob, 0.0);
        assert!(d.perplexity.is_nan() && d.sent_logppl_mean.is_nan() && d.sent_logppl_std.is_nan());
    }
    let d = m.score("a");
    assert_eq!((d.n_tokens, d.n_sentences), (2, 1));
    assert_eq!(d.sent_logppl_std, 0.0);
    assert!(matches!(NgramModel::train(vec!["...".to_string()], &opts2()), Err(LmError::EmptyCorpus)));
}

const SMALL_ARPA: &str = "some preamble
\\data\\
ngram 1=5
ngram 2=3
ngram 3=1

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.5
-0.7\t</s>\t0
-0.6\tthe\t-0.3
-0.8\tcat\t-0.2

\\2-grams:
-0.2\t<s> the\t-0.1
-0.4\tthe cat\t-0.15
-0.3\tcat </s>

\\3-grams:
-0.05\t<s> the cat
\\end\\
";

/// Back-off arithmetic on a hand-written ARPA file.
///
/// "The cat." : the|<s> = -0.2 (bigram); cat|<s> the = -0.05 (trigram);
///   </s>|the cat: no trigram, bigram "cat </s>" -0.3 + bo("the cat") -0.15 = -0.45. Total -0.7.
/// "cat the dog": cat|<s> = -0.8 + bo(<s>) -0.5 = -1.3;
///   the|<s> cat = unigram -0.6 + bo(cat) -0.2 + bo(<s> cat: absent) 0 = -0.8;
///   dog → <unk>: -1.0 + bo(the) -0.3 + bo(cat the: absent) = -1.3;
///   </s>|the <unk> = -0.7 + bo(<unk>) 0 = -0.7. Total -4.1 over 4 tokens.
#[test]
fn arpa_backoff_by_hand() {
    let p = tmp("small.arpa");
    std::fs::write(&p, SMALL_ARPA).unwrap();
    let m = NgramModel::load(&p).unwrap();
    assert_eq!(m.order(), 3);
    assert_eq!(m.ngram_counts(), vec![5, 3, 1]);
    let d = m.score("The cat.");
    assert_eq!(d.n_tokens, 3);
    close(d.log10_prob, -0.7, 1e-6);
    close(d.perplexity, 10f64.powf(0.7 / 3.0), 1e-6);
    let t = m.token_log10_probs("cat the dog");
    let want = [-1.3, -0.8, -1.3, -0.7];
    for (a, b) in t.iter().zip(want) {
        close(*a as f64, b, 1e-6);
    }
    close(m.score("cat the dog").log10_prob, -4.1, 1e-5);

    // gzip ARPA is detected too
    let pg = tmp("small.arpa.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&pg).unwrap(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, SMALL_ARPA.as_bytes()).unwrap();
    enc.finish().unwrap();
    let mg = NgramModel::load(&pg).unwrap();
    close(mg.score("cat the dog").log10_prob, -4.1, 1e-5);

    // converted to binary: same within quantisation
    let pb = tmp("small.bin");
    m.save_binary(&pb).unwrap();
    let mb = NgramModel::load(&pb).unwrap();
    close(mb.score("cat the dog").log10_prob, -4.1, 1e-3);
    close(mb.score("The cat.").log10_prob, -0.7, 1e-3);

    // malformed
    assert!(NgramModel::from_arpa_str("\\data\\\nngram 1=2\n\n\\1-grams:\n-1\ta\n\\end\\\n").is_err());
    assert!(NgramModel::from_arpa_str("\\data\\\nngram 1=1\n\n\\1-grams:\n-1\ta\n").is_err());
    std::fs::write(&p, b"hello world").unwrap();
    assert!(NgramModel::load(&p).is_err());
}

fn corpus_big() -> Vec<String> {
    // A deterministic pseudo-random corpus with repetition so pruning has work to do.
    let words = [
        "the", "cat", "sat", "on", "mat", "a", "dog", "ran", "to", "park", "and", "then", "it", "was", "late", "we",
        "saw", "birds", "in", "sky", "don't", "stop",
    ];
    let mut x: u64 = 12345;
    let mut docs = Vec::new();
    for _ in 0..200 {
        let mut doc = String::new();
        for _ in 0..(3 + (x % 4)) {
            let len = 3 + (x >> 7) % 9;
            for i in 0..len {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                // skewed distribution: low indices more likely
                let r = ((x >> 33) % 1000) as f64 / 1000.0;
                let idx = ((r * r * r) * words.len() as f64) as usize;
                if i == 0 {
                    let w = words[idx];
                    doc.push_str(&w[..1].to_uppercase());
                    doc.push_str(&w[1..]);
                } else {
                    doc.push(' ');
                    doc.push_str(words[idx]);
                }
                if (x >> 20).is_multiple_of(97) {
                    doc.push_str(" 1984");
                }
            }
            doc.push_str(". ");
        }
        docs.push(doc);
    }
    docs
}

/// Every conditional distribution sums to 1 (over the vocabulary minus `<s>`),
/// with and without pruning, for every context length.
#[test]
fn normalisation() {
    for prune in [vec![], vec![2, 3]] {
        let opts = TrainOptions { order: 3, min_count: 2, max_vocab: Some(15), prune, discount_override: None };
        let (m, s) = NgramModel::train(corpus_big(), &opts).unwrap();
        assert!(s.unk_words > 0);
        let vocab: Vec<String> = match &m.storage {
            Storage::Exact { est, .. } => est.vocab.clone(),
            _ => unreachable!(),
        };
        let contexts: Vec<Vec<&str>> = vec![
            vec![],
            vec!["<s>"],
            vec!["<s>", "the"],
            vec!["the"],
            vec!["the", "cat"],
            vec!["cat", "sat"],
            vec!["on", "the"],
            vec!["<unk>", "the"],
            vec!["sky", "sky"],
        ];
        for c in &contexts {
            let sum: f64 = vocab.iter().filter(|w| *w != "<s>").map(|w| 10f64.powf(m.log10_prob(c, w) as f64)).sum();
            close(sum, 1.0, 1e-4);
        }
    }
}

#[test]
fn arpa_round_trip() {
    let opts = TrainOptions { order: 3, min_count: 1, max_vocab: None, prune: vec![2], discount_override: None };
    let (m, _) = NgramModel::train(corpus_big(), &opts).unwrap();
    let p1 = tmp("rt1.arpa");
    let p2 = tmp("rt2.arpa");
    m.write_arpa(&p1).unwrap();
    let m2 = NgramModel::load(&p1).unwrap();
    m2.write_arpa(&p2).unwrap();
    assert_eq!(std::fs::read(&p1).unwrap(), std::fs::read(&p2).unwrap());
    assert_eq!(m2.ngram_counts(), m.ngram_counts());
    for d in corpus_big().iter().take(20) {
        assert_eq!(m.token_log10_probs(d), m2.token_log10_probs(d));
    }
    // Binary files cannot be written back as ARPA.
    let pb = tmp("rt.bin");
    m.save_binary(&pb).unwrap();
    assert!(matches!(NgramModel::load(&pb).unwrap().write_arpa(&p2), Err(LmError::Unsupported(_))));
}

#[test]
fn binary_round_trip() {
    let opts = TrainOptions { order: 4, prune: vec![1, 2, 2], ..Default::default() };
    let (m, s_mem) = NgramModel::train(corpus_big(), &opts).unwrap();
    let p = tmp("model.bin");
    let s = NgramModel::train_to_file(corpus_big(), &opts, &p).unwrap();
    assert_eq!(s.ngrams_kept, s_mem.ngrams_kept);
    assert_eq!(s.file_bytes, std::fs::metadata(&p).unwrap().len());
    let b = NgramModel::load(&p).unwrap();
    assert_eq!(b.order(), 4);
    assert_eq!(b.ngram_counts(), m.ngram_counts());
    assert_eq!(b.memory_bytes() as u64, s.file_bytes);
    let texts = corpus_big();
    for t in texts.iter().take(50).map(|s| s.as_str()).chain(["Zebras don't fly over 12 moons.", "the the the"]) {
        let (x, y) = (m.score(t), b.score(t));
        assert_eq!((x.n_tokens, x.n_sentences), (y.n_tokens, y.n_sentences));
        close(x.log10_prob, y.log10_prob, 2e-4 * x.n_tokens as f64);
        let (tx, ty) = (m.token_log10_probs(t), b.token_log10_probs(t));
        for (a, c) in tx.iter().zip(&ty) {
            close(*a as f64, *c as f64, 2e-4);
        }
    }
    // Thread-safety: the model is Sync and can be scored from many threads.
    fn is_sync<T: Sync + Send>(_: &T) {}
    is_sync(&b);
    use rayon::prelude::*;
    let total: f64 = texts.par_iter().map(|t| b.score(t).log10_prob).sum();
    let serial: f64 = texts.iter().map(|t| b.score(t).log10_prob).sum();
    close(total, serial, 1e-6 * serial.abs());
    // Corrupt file is rejected.
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.truncate(100);
    std::fs::write(&p, &bytes).unwrap();
    assert!(NgramModel::load(&p).is_err());
}

#[test]
fn unknown_words_get_unk_probability() {
    let opts = TrainOptions { order: 3, min_count: 2, ..Default::default() };
    let (m, _) = NgramModel::train(corpus_big(), &opts).unwrap();
    let unk = m.log10_prob(&[], "<unk>");
    assert!(unk > -10.0 && unk < 0.0);
    assert_eq!(m.log10_prob(&[], "qwertyuiop"), unk);
    assert_eq!(m.log10_prob(&["the"], "qwertyuiop"), m.log10_prob(&["the"], "<unk>"));
    // numbers are one token
    assert_eq!(m.log10_prob(&[], "<num>"), m.log10_prob(&[], &tokenize::tokenize("1,984")[0][0]));
}
