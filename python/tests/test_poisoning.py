"""Data poisoning: fake-profile injection, target metrics, optimised attack, detectors."""

import numpy as np
import pytest

import advrec
from advrec import poisoning as P


@pytest.fixture(scope="module")
def data():
    return advrec.datasets.synthetic(n_users=120, n_items=80, seed=3)


TARGETS = [7, 41]


# ---- injection ------------------------------------------------------------------------------
@pytest.mark.parametrize("attack", ["random", "popular", "average", "bandwagon", "segment", "sequential"])
def test_inject_profiles_exact_targets_present_real_rows_untouched(data, attack):
    poisoned, fake = P.inject(data, attack, TARGETS, n_fake=9, profile_size=12, seed=4)
    n = len(data)
    assert poisoned.n_users == data.n_users + 9 and poisoned.n_items == data.n_items
    np.testing.assert_array_equal(fake, np.arange(data.n_users, data.n_users + 9))
    # real rows first, unchanged, in order; ids and original ids of real users unchanged
    np.testing.assert_array_equal(poisoned.users[:n], data.users)
    np.testing.assert_array_equal(poisoned.items[:n], data.items)
    np.testing.assert_array_equal(poisoned.timestamps[:n], data.timestamps)
    np.testing.assert_array_equal(poisoned.user_ids[:data.n_users], data.user_ids)
    assert np.unique(poisoned.user_ids).size == poisoned.n_users
    assert set(np.unique(poisoned.users[n:])) == set(fake.tolist())
    indptr, indices = poisoned.csr_arrays()
    for f in fake:
        row = indices[indptr[f]:indptr[f + 1]]
        assert row.size == 12 and np.unique(row).size == 12  # exact size, no duplicate pair
        assert set(TARGETS) <= set(row.tolist())
    # construction merged nothing (no duplicate pair anywhere)
    key = poisoned.users.astype(np.int64) * poisoned.n_items + poisoned.items
    assert np.unique(key).size == len(poisoned)
    # fake interactions come after every real one in time
    assert poisoned.timestamps[n:].min() > data.timestamps.max()


@pytest.mark.parametrize("attack", ["random", "bandwagon", "segment", "sequential"])
def test_inject_is_seeded(data, attack):
    a, _ = P.inject(data, attack, TARGETS, n_fake=0.05, profile_size=10, seed=11)
    b, _ = P.inject(data, attack, TARGETS, n_fake=0.05, profile_size=10, seed=11)
    c, _ = P.inject(data, attack, TARGETS, n_fake=0.05, profile_size=10, seed=12)
    np.testing.assert_array_equal(a.items, b.items)
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    if attack not in ("bandwagon",):
        assert not np.array_equal(a.items, c.items)


def test_fraction_rounds_to_count(data):
    _, fake = P.inject(data, "random", 3, n_fake=0.1, profile_size=5, seed=0)
    assert fake.size == 12
    _, fake = P.inject(data, "random", 3, n_fake=0.001, profile_size=5, seed=0)
    assert fake.size == 1


def test_bandwagon_holds_the_most_popular_items(data):
    poisoned, fake = P.inject(data, "bandwagon", TARGETS, n_fake=4, profile_size=12, seed=0, n_selected=3)
    pop = data.item_counts().astype(float)
    pop[TARGETS] = -1
    top3 = set(np.argsort(-pop, kind="stable")[:3].tolist())
    indptr, indices = poisoned.csr_arrays()
    for f in fake:
        assert top3 <= set(indices[indptr[f]:indptr[f + 1]].tolist())


def test_popular_filler_prefers_popular_items(data):
    poisoned, fake = P.inject(data, "popular", TARGETS, n_fake=60, profile_size=12, seed=0)
    rnd, fake_r = P.inject(data, "random", TARGETS, n_fake=60, profile_size=12, seed=0)
    pop = data.item_counts()
    mean_pop = lambda d, f: pop[d.items[d.users >= data.n_users]].mean()  # noqa: E731
    assert mean_pop(poisoned, fake) > 1.3 * mean_pop(rnd, fake_r)


def test_sequential_places_each_target_after_a_popular_item(data):
    poisoned, fake = P.inject(data, "sequential", TARGETS, n_fake=5, profile_size=10, seed=0)
    indptr, seq = poisoned.sequences()
    pop = data.item_counts()
    for f in fake:
        s = seq[indptr[f]:indptr[f + 1]]
        for t in TARGETS:
            pos = int(np.flatnonzero(s == t)[0])
            assert pos >= 1 and s[pos - 1] not in TARGETS
            # the item before the target is among the profile's most popular filler items
            filler = s[~np.isin(s, TARGETS)]
            assert pop[s[pos - 1]] >= np.sort(pop[filler])[-len(TARGETS)]
            # and the pairs are at the end of the sequence (inside any maxlen window >= 2 x targets)
            assert pos >= len(s) - 2 * len(TARGETS)


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(targets=[80]), ValueError, "outside"),
    (dict(targets=[-1]), ValueError, "outside"),
    (dict(targets=[3, 3]), ValueError, "more than once"),
    (dict(targets=[1.5]), TypeError, "integer"),
    (dict(n_fake=0.0), ValueError, r"\(0, 1\]"),
    (dict(n_fake=1.5), ValueError, r"\(0, 1\]"),
    (dict(n_fake=-0.1), ValueError, r"\(0, 1\]"),
    (dict(n_fake=0), ValueError, ">= 1"),
    (dict(n_fake=True), TypeError, "bool"),
    (dict(profile_size=81), ValueError, "larger than the number of items"),
    (dict(profile_size=1), ValueError, "at least the number of targets"),
    (dict(attack="love-hate"), ValueError, "unknown attack"),
    (dict(attack="random", n_selected=2), TypeError, "unknown parameter"),
])
def test_inject_bad_input(data, kwargs, err, match):
    args = dict(attack="bandwagon", targets=TARGETS, n_fake=3, profile_size=10, seed=0)
    args.update(kwargs)
    with pytest.raises(err, match=match):
        P.inject(data, **args)


def test_inject_rejects_non_interactions():
    with pytest.raises(TypeError, match="train must be an advrec.Interactions"):
        P.inject(np.zeros((3, 3)), "random", [0])


# ---- target metrics ---------------------------------------------------------------------------
def _numpy_target_metrics(model, train, targets, users, k):
    S = model.score(users).astype(np.float64)
    U, V = model._scoring_factors(np.asarray(users, np.int32))
    S = U.astype(np.float64) @ V.astype(np.float64).T
    dense = train.to_csr().toarray() > 0
    out = {}
    for t in targets:
        rows = []
        for r, u in enumerate(users):
            if dense[u, t]:
                continue
            cand = ~dense[u].copy()
            cand[t] = False
            ahead = int((S[r, cand] >= S[r, t]).sum())  # pessimistic ties
            rank = ahead + 1
            rows.append((u, float(rank <= k), (1 / np.log2(rank + 1)) if rank <= k else 0.0, rank, S[r, t]))
        out[t] = np.array(rows)
    return out


@pytest.mark.parametrize("model_kind", ["bpr", "pop"])
def test_target_metrics_match_numpy_reference(data, model_kind):
    poisoned, fake = P.inject(data, "bandwagon", TARGETS, n_fake=6, profile_size=10, seed=0)
    if model_kind == "bpr":
        model = advrec.BPRMF(factors=8, epochs=3, num_threads=1, show_progress=False).fit(poisoned)
    else:
        model = advrec.ItemPop().fit(poisoned)  # many exact ties: pessimistic ranks are tested
    real = np.arange(data.n_users)
    res = P.target_metrics(model, poisoned, TARGETS, k=(5, 20), users=real)
    ref = _numpy_target_metrics(model, poisoned, TARGETS, real, 20)
    ref5 = _numpy_target_metrics(model, poisoned, TARGETS, real, 5)
    holders = set()
    for t in TARGETS:
        d = res.per_target[t]
        r = ref[t]
        np.testing.assert_array_equal(d["users"], r[:, 0].astype(int))
        np.testing.assert_array_equal(d["rank"], r[:, 3])
        np.testing.assert_array_equal(d["hr@20"], r[:, 1])
        np.testing.assert_allclose(d["ndcg@20"], r[:, 2], rtol=1e-12)
        np.testing.assert_array_equal(d["hr@5"], ref5[t][:, 1])
        np.testing.assert_allclose(d["score"], r[:, 4], rtol=1e-5, atol=1e-6)
        holders |= set(real.tolist()) - set(d["users"].tolist())
    assert holders  # the fixture has users who already hold a target, and they were left out
    # per-user arrays average over the targets each user is eligible for
    u = int(res.users[0])
    vals = [res.per_target[t]["rank"][res.per_target[t]["users"] == u] for t in TARGETS]
    assert res.per_user["rank"][0] == pytest.approx(np.mean(np.concatenate(vals)))
    assert not np.isin(fake, res.users).any()


def test_target_metrics_pessimistic_ties_give_no_credit(data):
    class Flat:
        n_users, n_items = data.n_users, data.n_items

        def _scoring_factors(self, users):
            return np.ones((len(users), 1), np.float32), np.ones((data.n_items, 1), np.float32)

    res = P.target_metrics(Flat(), data, TARGETS, k=10)
    assert res["hr@10"] == 0.0
    sizes = data.user_counts()[res.users]
    # every other candidate ties with the target and ranks ahead of it
    assert np.all(res.per_user["rank"] >= data.n_items - sizes - 1)


def test_paired_stats_apply_to_target_results(data):
    poisoned, fake = P.inject(data, "bandwagon", TARGETS, n_fake=12, profile_size=10, seed=0)
    clean = advrec.BPRMF(factors=8, epochs=5, num_threads=1, show_progress=False).fit(data)
    before = P.target_metrics(P.retrain(clean, data, 3), data, TARGETS, k=20)
    after = P.target_metrics(P.retrain(clean, poisoned, 3), poisoned, TARGETS, k=20, users=np.arange(data.n_users))
    t = advrec.stats.paired_ttest(after, before, "rank")
    assert t.n_users == before.users.size
    shift = P.score_shift(before, after)
    assert shift["users"] == before.users.size and np.isfinite(shift["score_shift"])


def test_target_metrics_bad_input(data):
    model = advrec.ItemPop().fit(data)
    with pytest.raises(ValueError, match="outside"):
        P.target_metrics(model, data, [data.n_items])
    poisoned, _ = P.inject(data, "random", [1], n_fake=2, profile_size=4)
    with pytest.raises(ValueError, match="fitted on"):
        P.target_metrics(model, poisoned, [1])
    with pytest.raises(ValueError, match="k must be positive"):
        P.target_metrics(model, data, [1], k=0)


# ---- warm-started retraining ---------------------------------------------------------------
@pytest.mark.parametrize("cls", [advrec.BPRMF, advrec.AMF])
def test_retrain_keeps_real_users_and_grows_user_space(data, cls):
    extra = {"eps": 0.01} if cls is advrec.AMF else {}  # a budget below the embedding norms of this tiny fit
    clean = cls(factors=8, epochs=2, num_threads=1, show_progress=False, **extra).fit(data)
    poisoned, fake = P.inject(data, "random", TARGETS, n_fake=5, profile_size=6, seed=0)
    out = P.retrain(clean, poisoned, 0)  # zero epochs: the starting point itself
    assert out.n_users == poisoned.n_users and type(out) is cls
    np.testing.assert_array_equal(out.user_factors[:data.n_users], clean.user_factors)
    np.testing.assert_array_equal(out.item_factors, clean.item_factors)
    assert clean.n_users == data.n_users  # not modified
    out = P.retrain(clean, poisoned, 1)
    assert out._epochs_done == clean._epochs_done + 1


# ---- optimised attack --------------------------------------------------------------------------
def test_capped_simplex_projection_is_feasible_and_nearest():
    from advrec.poisoning.optimized import project_capped_simplex

    rng = np.random.default_rng(0)
    Y = rng.normal(size=(4, 30)) * 2
    X = project_capped_simplex(Y, 7)
    assert np.all(X >= 0) and np.all(X <= 1)
    np.testing.assert_allclose(X.sum(axis=1), 7, atol=1e-9)
    # nearest: no random feasible point is closer (feasible points by projecting random ones)
    for _ in range(20):
        Z = project_capped_simplex(rng.normal(size=Y.shape), 7)
        assert np.all(((Y - X) ** 2).sum(axis=1) <= ((Y - Z) ** 2).sum(axis=1) + 1e-9)
    # an already-binary point with m ones is its own projection
    B = np.zeros((1, 10))
    B[0, [1, 4, 6]] = 1
    np.testing.assert_allclose(project_capped_simplex(B, 3), B, atol=1e-9)


def test_surrogate_gradient_matches_finite_differences():
    from advrec.poisoning.optimized import SurrogateObjective

    rng = np.random.default_rng(1)
    n_users, n_items, d, targets = 15, 12, 4, np.array([2, 9])
    P, V = rng.normal(size=(n_users, d)), rng.normal(size=(n_items, d))
    theta = rng.normal(size=n_users)
    eligible = rng.random((n_users, 2)) > 0.2
    Xb = (rng.random((3, n_items)) > 0.5).astype(float)
    Xb[:, targets] = 1
    obj = SurrogateObjective(P, V, theta, eligible, targets, Xb, alpha=0.3, tau=0.7)
    X = np.clip(Xb + rng.normal(scale=0.2, size=Xb.shape), 0, 1)
    X[:, targets] = 1
    G = obj.gradient(X)
    h = 1e-6
    for f, j in [(0, 0), (1, 5), (2, 11), (0, 7)]:
        Xp, Xm = X.copy(), X.copy()
        Xp[f, j] += h
        Xm[f, j] -= h
        fd = (obj.value(Xp) - obj.value(Xm)) / (2 * h)
        assert G[f, j] == pytest.approx(fd, rel=1e-6, abs=1e-10)
    assert np.all(G[:, targets] == 0)
    assert obj.value(Xb) == pytest.approx(np.mean(
        1 / (1 + np.exp(-((P @ V[targets].T - theta[:, None]) / 0.7))), where=eligible))


def test_pga_objective_rises_monotonically_and_profiles_are_valid(data):
    history = []
    poisoned, fake = P.inject(data, "pga", TARGETS, n_fake=4, profile_size=10, seed=0, rounds=2, steps=8,
                              surrogate_epochs=3, k=10, num_threads=1, surrogate_lr=0.05,
                              history=history)
    assert len(history) == 3
    rose = False
    for rec in history:
        inner = np.array(rec["inner"])
        assert np.all(np.diff(inner) > 0)  # every accepted step raises the relaxed objective
        rose |= inner.size > 1
    assert rose
    indptr, indices = poisoned.csr_arrays()
    for f in fake:
        row = indices[indptr[f]:indptr[f + 1]]
        assert row.size == 10 and set(TARGETS) <= set(row.tolist())
    again, _ = P.inject(data, "pga", TARGETS, n_fake=4, profile_size=10, seed=0, rounds=2, steps=8,
                        surrogate_epochs=3, k=10, num_threads=1, surrogate_lr=0.05)
    np.testing.assert_array_equal(poisoned.items, again.items)


def test_pga_bad_parameters(data):
    with pytest.raises(ValueError, match="rounds"):
        P.inject(data, "pga", TARGETS, n_fake=2, profile_size=6, rounds=0)
    with pytest.raises(ValueError, match="tau"):
        P.inject(data, "pga", TARGETS, n_fake=2, profile_size=6, tau=-1.0)
    with pytest.raises(TypeError, match="surrogate"):
        P.inject(data, "pga", TARGETS, n_fake=2, profile_size=6, surrogate=advrec.ItemPop().fit(data))


# ---- detection --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def blocky():
    """Real users with an obvious structure: each holds one of 5 blocks of 10 items, so their
    profiles are low-rank and each has identical neighbours; fakes made by the random attack are
    neither."""
    users, items = [], []
    for u in range(200):
        b = u % 5
        its = list(range(b * 10, b * 10 + 10))
        users += [u] * len(its)
        items += its
    return advrec.Interactions.from_arrays(np.array(users), np.array(items), dense_ids=True, n_items=60)


@pytest.mark.parametrize("detector", ["pca", "degsim"])
def test_detectors_find_planted_fakes(blocky, detector):
    poisoned, fake = P.inject(blocky, "random", [55], n_fake=10, profile_size=10, seed=0)
    flagged = P.detect(poisoned, detector)
    scores = P.detection_scores(flagged, fake)
    assert scores["recall"] == 1.0 and scores["precision"] >= 0.9
    # the scores rank every fake above every real user
    s = P.DETECTORS[detector](poisoned)
    assert s[fake].min() > s[:blocky.n_users].max()


def test_detection_scores_and_remove_users(blocky):
    assert P.detection_scores([1, 2, 3, 4], [3, 4, 5, 6]) == {"precision": 0.5, "recall": 0.5, "f1": 0.5,
                                                             "flagged": 4, "true_positives": 2}
    assert P.detection_scores([], [1])["f1"] == 0.0
    poisoned, fake = P.inject(blocky, "random", [55], n_fake=5, profile_size=10, seed=0)
    cleaned = P.remove_users(poisoned, fake)
    assert cleaned.n_users == poisoned.n_users and len(cleaned) == len(blocky)
    np.testing.assert_array_equal(cleaned.items, blocky.items)
    with pytest.raises(ValueError, match="unknown detector"):
        P.detect(poisoned, "svm")


# ---- benchmark and plot ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def grid(data):
    small = dict(factors=8, epochs=2)
    return P.benchmark(data, attacks=("random", "bandwagon", "sequential"), fractions=(0.05, 0.1),
                       victims=("ItemPop", "BPRMF", "SASRec"), seeds=(0, 1), n_targets=2, k=10, profile_size=8,
                       retrain_epochs=1, victim_params={"BPRMF": small, "SASRec": dict(factors=8, maxlen=10, epochs=1)},
                       detectors=("degsim",), remove_and_retrain=("BPRMF",))


def test_benchmark_table_is_tidy_and_complete(grid, data):
    cols = {"seed", "targets", "attack", "fraction", "n_fake", "victim", "metric", "value", "clean", "seconds",
            "cpu_seconds"}
    assert cols <= set(grid.columns)
    assert set(grid["metric"]) >= {"hr@10", "ndcg@10", "rank", "score", "precision", "recall", "f1"}
    victims = grid[grid.metric == "hr@10"]
    # every (seed, victim) has a clean reference; the sequential attack hits sequence models only
    assert len(victims[victims.attack == "none"]) == 2 * 3
    assert set(victims[victims.attack == "sequential"]["victim"]) == {"SASRec"}
    assert set(victims[victims.attack == "random"]["victim"]) == {"ItemPop", "BPRMF", "SASRec", "BPRMF+remove:degsim"}
    assert set(grid[grid.attack == "random"]["n_fake"]) == {6, 12}
    # targets differ between seeds and lie below the median popularity
    t0, t1 = (set(map(int, s.split())) for s in grid.groupby("seed")["targets"].first())
    assert t0 != t1
    pop = data.item_counts()
    assert all(pop[t] < np.median(pop[pop > 0]) for t in t0 | t1)
    finite = grid[grid.attack != "none"]
    assert np.isfinite(finite[finite.victim == "BPRMF"]["seconds"]).all()
    test = P.paired_across_seeds(grid, "bandwagon", "random", "rank", "BPRMF", 0.05)
    assert test["seeds"] == 2 and np.isfinite(test["mean_difference"])


def test_benchmark_bad_input(data):
    with pytest.raises(ValueError, match="unknown victim"):
        P.benchmark(data, victims=("NeuMF",))
    with pytest.raises(ValueError, match="fractions"):
        P.benchmark(data, fractions=(0.0,), victims=("ItemPop",))
    with pytest.raises(ValueError, match="unknown attack"):
        P.benchmark(data, attacks=("love-hate",), victims=("ItemPop",))
    with pytest.raises(ValueError, match="needs at least one detector"):
        P.benchmark(data, victims=("BPRMF",), remove_and_retrain=("BPRMF",))


def test_poisoning_curve(grid, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    ax = advrec.plot.poisoning_curve(grid, metric="rank", victim="BPRMF")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["random", "bandwagon"]
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == [0.0, 5.0, 10.0]  # clean reference at 0, then the fractions in %
    ax.figure.savefig(tmp_path / "p.png")
    with pytest.raises(ValueError, match="victim"):
        advrec.plot.poisoning_curve(grid, metric="rank", victim="AMF")
    with pytest.raises(ValueError, match="metric"):
        advrec.plot.poisoning_curve(grid, metric="hr@50")


def test_inject_without_timestamps_with_string_ids_and_weights():
    d = advrec.Interactions.from_arrays(np.array(["ann", "bob", "bob", "cy"]), np.array([1, 2, 3, 1]),
                                        weights=[4.0, 5.0, 3.0, 1.0])
    p, fake = P.inject(d, "sequential", [0], n_fake=2, profile_size=2, seed=0)
    assert p.user_ids.tolist() == ["ann", "bob", "cy", "fake-0", "fake-1"]
    np.testing.assert_array_equal(p.weights[4:], 5.0)  # a shill gives the best rating
    indptr, seq = p.sequences()
    for f in fake:  # without timestamps the input order is the sequence: the target after the filler
        assert seq[indptr[f + 1] - 1] == 0
