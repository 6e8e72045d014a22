"""advrec.datasets: synthetic generator, loaders (tiny fixtures + the real shared data), features."""

import shutil

import numpy as np
import pytest

from advrec.datasets import (load_lightgcn, load_movielens, load_negatives, load_rating_split, load_sasrec,
                             movielens_item_features, movielens_titles, synthetic)
from advrec.split import leave_one_out


def write(path, text, mode="w"):
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def pair_set(d):
    return set(zip(d.users.tolist(), d.items.tolist()))


# ---- synthetic ---------------------------------------------------------------------------------
def test_synthetic_defaults_and_determinism():
    a = synthetic(seed=5)
    b = synthetic(seed=5)
    c = synthetic(seed=6)
    assert (a.n_users, a.n_items) == (2000, 1000)
    assert abs(len(a) - 100_000) < 2_000
    for name in ("users", "items", "timestamps", "item_features"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.items[:1000], c.items[:1000])
    assert a.item_features.shape == (1000, 32) and a.item_features.dtype == np.float32
    assert a.timestamps.dtype == np.int64 and a.n_duplicates_merged == 0
    assert a.user_counts().min() >= 3
    # timestamps strictly increase within each user, rows grouped by user
    same_user = a.users[1:] == a.users[:-1]
    assert np.all(np.diff(a.timestamps)[same_user] > 0)
    # popularity is skewed: the top 10% of items hold a large share of the interactions
    counts = np.sort(a.item_counts())[::-1]
    assert counts[:100].sum() > 0.3 * counts.sum()


def test_synthetic_planted_structure_is_learnable():
    """Ranking by the planted preferences beats popularity on a leave-one-out split, and the content
    features predict the item factors: the properties the demo and model tests rely on."""
    data, truth = synthetic(n_users=600, n_items=300, density=0.05, seed=0, return_factors=True)
    train, test = leave_one_out(data)
    P, Q, b = truth["user_factors"], truth["item_factors"], truth["item_bias"]
    planted = truth["affinity"] * P @ Q.T / np.sqrt(P.shape[1]) + b
    pop = np.broadcast_to(train.item_counts().astype(np.float64), planted.shape)

    def hit_rate(scores, k=10):
        s = np.array(scores, dtype=np.float64)
        indptr, indices = train.csr_arrays()
        rows = np.repeat(np.arange(train.n_users), np.diff(indptr))
        s[rows, indices] = -np.inf
        top = np.argsort(-s, axis=1)[:, :k]
        return np.mean((top[test.users] == test.items[:, None]).any(axis=1))

    hr_true, hr_pop = hit_rate(planted), hit_rate(pop)
    assert hr_true > 1.5 * hr_pop and hr_pop > 0.02
    F = data.item_features
    coef = np.linalg.lstsq(F, Q, rcond=None)[0]
    r2 = 1 - ((F @ coef - Q) ** 2).sum() / ((Q - Q.mean(0)) ** 2).sum()
    assert r2 > 0.5


def test_synthetic_options_and_errors():
    d = synthetic(n_users=30, n_items=20, n_features=0, timestamps=False, seed=0)
    assert d.item_features is None and d.timestamps is None and d.n_users == 30
    with pytest.raises(ValueError, match="density"):
        synthetic(density=0)
    with pytest.raises(ValueError, match="n_items"):
        synthetic(n_items=1)
    with pytest.raises(TypeError, match="seed"):
        synthetic(seed=1.5)
    with pytest.raises(ValueError, match="min_user_interactions"):
        synthetic(n_items=5, min_user_interactions=6)


# ---- MovieLens -----------------------------------------------------------------------------------
ML_CSV = "userId,movieId,rating,timestamp\n1,10,4.0,100\n1,30,3.5,90\n2,10,5.0,80\n"
ML_DAT = "1::10::4::100\n1::30::3::90\n2::10::5::80\n"
ML_UDATA = "1\t10\t4\t100\n1\t30\t3\t90\n2\t10\t5\t80\n"


@pytest.mark.parametrize("name, text", [("ratings.csv", ML_CSV), ("ratings.dat", ML_DAT), ("u.data", ML_UDATA)])
def test_load_movielens_formats(tmp_path, name, text):
    write(tmp_path / name, text)
    d = load_movielens(tmp_path)
    assert (d.n_users, d.n_items, len(d)) == (2, 2, 3)
    np.testing.assert_array_equal(d.user_ids, [1, 2])
    np.testing.assert_array_equal(d.item_ids, [10, 30])
    np.testing.assert_array_equal(d.timestamps, [100, 90, 80])
    assert d.weights is not None and d.weights[0] == 4.0
    liked = load_movielens(tmp_path / name, min_rating=4)
    assert len(liked) == 2
    assert load_movielens(tmp_path, ratings_as_weights=False).weights is None


@pytest.mark.parametrize("name, text, line", [
    ("ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.0,100\n1,x,3.5,90\n", 3),
    ("ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.0,100\n2,10,5.0\n", 3),
    ("ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.0,100\n2,10,5.0,80\n-3,1,1,1\n", 4),
    ("ratings.dat", "1::10::4::100\n1::30::3\n", 2),
    ("u.data", "1\t10\t4\t100\n1\t30\t3\t90\t7\n", 2),
])
def test_load_movielens_malformed_names_file_and_line(tmp_path, name, text, line):
    write(tmp_path / name, text)
    with pytest.raises(ValueError, match=rf"{name}, line {line}:"):
        load_movielens(tmp_path)


def test_load_movielens_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="no MovieLens ratings file"):
        load_movielens(tmp_path)
    with pytest.raises(FileNotFoundError, match="nope"):
        load_movielens(tmp_path / "nope")
    write(tmp_path / "ratings.csv", "movie,user\n1,2\n")
    with pytest.raises(ValueError, match="line 1"):
        load_movielens(tmp_path)


def test_ml_latest_small_statistics(dataset):
    folder = dataset("ml-latest-small")
    d = load_movielens(folder)
    assert (d.n_users, d.n_items, len(d)) == (610, 9724, 100836)
    np.testing.assert_array_equal(d.user_ids, np.arange(1, 611))
    assert d.item_ids.max() == 193609 and d.n_duplicates_merged == 0
    assert set(np.unique(d.weights).tolist()) == {0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0}


def test_movielens_features_and_titles(dataset):
    folder = dataset("ml-latest-small")
    d = load_movielens(folder)
    F, names = movielens_item_features(folder, d, kind="genres", return_names=True)
    assert F.shape == (9724, len(names)) and F.dtype == np.float32
    assert "(no genres listed)" not in names and "Animation" in names and len(names) == 19
    toy = int(np.flatnonzero(d.item_ids == 1)[0])
    on = {names[k] for k in np.flatnonzero(F[toy])}
    assert on == {"Adventure", "Animation", "Children", "Comedy", "Fantasy"}
    titles = movielens_titles(folder, d)
    assert titles.shape == (9724,) and titles[toy] == "Toy Story (1995)"
    assert (F.sum(axis=1) > 0).mean() > 0.99
    # aligned with filtered data too: rows follow the item ids
    small = d.k_core(20)
    Fs = movielens_item_features(folder, small, kind="genres")
    rows = np.searchsorted(d.item_ids, small.item_ids)
    np.testing.assert_array_equal(Fs, F[rows])
    T, tag_names = movielens_item_features(folder, d, kind="tags", return_names=True)
    assert T.shape == (9724, len(tag_names)) and len(tag_names) > 50
    norms = np.linalg.norm(T, axis=1)
    assert np.allclose(norms[norms > 0], 1.0, atol=1e-5) and (norms > 0).sum() > 500
    assert len(tag_names) == len(set(tag_names)) and all(t == t.strip().lower() for t in tag_names)
    T5 = movielens_item_features(folder, d, kind="tags", max_features=5)
    assert T5.shape == (9724, 5)
    with pytest.raises(ValueError, match="kind"):
        movielens_item_features(folder, d, kind="posters")
    with pytest.raises(FileNotFoundError, match="genome"):
        movielens_item_features(folder, d, kind="genome")


def test_movielens_features_other_formats(tmp_path):
    write(tmp_path / "ratings.dat", ML_DAT)
    write(tmp_path / "movies.dat", "10::Heat (1995)::Action|Crime\n30::Up: Again (2009)::Animation\n99::Other::Drama\n")
    d = load_movielens(tmp_path)
    F, names = movielens_item_features(tmp_path, d, return_names=True)
    assert names == ["Action", "Animation", "Crime", "Drama"]
    np.testing.assert_array_equal(F, [[1, 0, 1, 0], [0, 1, 0, 0]])
    assert movielens_titles(tmp_path, d).tolist() == ["Heat (1995)", "Up: Again (2009)"]
    write(tmp_path / "movies.dat", "10::Heat (1995)\n")
    with pytest.raises(ValueError, match=r"movies.dat, line 1"):
        movielens_item_features(tmp_path, d)
    k = tmp_path / "k"
    write(k / "u.data", ML_UDATA)
    flags = ["0"] * 19
    flags[1] = "1"
    write(k / "u.item", "10|Heat (1995)|01-Jan-1995||http://x|" + "|".join(flags) + "\n")
    F, names = movielens_item_features(k, load_movielens(k), return_names=True)
    assert names == ["Action"] and F.tolist() == [[1.0], [0.0]]


# ---- SASRec ---------------------------------------------------------------------------------------
def test_load_sasrec_small(tmp_path):
    d = load_sasrec(write(tmp_path / "x.txt", "1 5\n1 3\n2 5\n1 9\n"))
    assert (d.n_users, d.n_items, len(d)) == (2, 3, 4) and d.timestamps is None
    indptr, seq = d.sequences()
    assert d.item_ids[seq[indptr[0]:indptr[1]]].tolist() == [5, 3, 9]  # file order = chronology


@pytest.mark.parametrize("text, line, match", [
    ("1 5\n1 3 4\n", 2, "expected 2 fields"),
    ("1 5\n\n2 x\n", 3, "unexpected character 'x'"),
    ("1 5\n2 -3\n", 2, "unexpected character '-'"),
    ("1 2.5\n", 1, "unexpected character '.'"),
])
def test_load_sasrec_malformed(tmp_path, text, line, match):
    p = write(tmp_path / "bad.txt", text)
    with pytest.raises(ValueError, match=rf"bad.txt, line {line}: {match}"):
        load_sasrec(p)


def test_load_sasrec_empty_and_missing(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        load_sasrec(write(tmp_path / "e.txt", "\n\n"))
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        load_sasrec(tmp_path / "missing.txt")


def test_video_statistics(dataset):
    folder = dataset("amazon-video-sasrec")
    d = load_sasrec(folder / "Video.txt")
    assert (d.n_users, d.n_items, len(d)) == (31013, 23715, 287107)
    train, test = load_rating_split(folder / "Video.train.rating", folder / "Video.test.rating")
    assert (len(train), len(test)) == (256094, 31013)
    assert (train.n_users, train.n_items) == (test.n_users, test.n_items) == (31013, 23715)
    np.testing.assert_array_equal(train.user_ids, np.arange(31013))


# ---- .rating / .negative -------------------------------------------------------------------------------
def test_load_rating_split_small(tmp_path):
    tr = write(tmp_path / "a.train.rating", "0\t1\t4\t100\n0\t2\t5\t101\n1\t1\t3\t99\n")
    te = write(tmp_path / "a.test.rating", "2\t7\t1\t200\n")
    train, test = load_rating_split(tr, te)
    assert (train.n_users, train.n_items) == (test.n_users, test.n_items) == (3, 8)
    assert pair_set(train) == {(0, 1), (0, 2), (1, 1)} and pair_set(test) == {(2, 7)}
    np.testing.assert_array_equal(train.weights, [4, 5, 3])
    np.testing.assert_array_equal(test.timestamps, [200])
    two = write(tmp_path / "b.rating", "0 1\n3 0\n")
    train, test = load_rating_split(two, two)
    assert train.weights is None and train.timestamps is None and train.n_users == 4
    half = write(tmp_path / "c.rating", "0\t1\t4.5\n")
    assert load_rating_split(half, half)[0].weights[0] == 4.5


@pytest.mark.parametrize("text, line, match", [
    ("0\t1\t4\t100\n0\t2\n", 2, "expected 4 fields"),
    ("0\t1\t4\n1.5\t2\t3\n", 2, "user must be a non-negative integer"),
    ("0\t1\t4\n1\t-2\t3\n", 2, "item must be a non-negative integer"),
    ("0\t1\t4\n1\t2\tfour\n", 3 - 1, "unexpected character 'f'"),
    ("0\t1\t4\t10.5\n", 1, "timestamp must be an integer"),
    ("0\t1\t4\n1\t2\t1.2.3\n", 2, "cannot parse '1.2.3'"),
])
def test_load_rating_malformed(tmp_path, text, line, match):
    bad = write(tmp_path / "bad.rating", text)
    good = write(tmp_path / "good.rating", "0\t1\n")
    with pytest.raises(ValueError, match=rf"bad.rating, line {line}: {match}"):
        load_rating_split(good, bad)


def test_load_negatives(tmp_path):
    p = write(tmp_path / "x.test.negative", "(0,25)\t3\t4\t5\n(1,7)\t8\t9\t10\n")
    negs = load_negatives(p)
    users, items, neg = negs
    assert users.dtype == np.int32 and neg.dtype == np.int32 and neg.shape == (2, 3)
    assert users.tolist() == [0, 1] and items.tolist() == [25, 7] and neg[1].tolist() == [8, 9, 10]
    assert len(negs) == 2 and negs.n_negatives == 3
    with pytest.raises(ValueError, match=r"y.negative, line 2: expected 4 fields"):
        load_negatives(write(tmp_path / "y.negative", "(0,25)\t3\t4\n(1,7)\t8\t9\t10\n"))
    with pytest.raises(ValueError, match=r"z.negative, line 1: expected a line starting with '\(user,item\)'"):
        load_negatives(write(tmp_path / "z.negative", "0\t25\t3\n"))
    with pytest.raises(ValueError, match=r"w.negative, line 2: unexpected character 'a'"):
        load_negatives(write(tmp_path / "w.negative", "(0,25)\t3\n(1,a)\t8\n"))


# ---- LightGCN ----------------------------------------------------------------------------------------
def test_load_lightgcn_txt(tmp_path):
    write(tmp_path / "train.txt", "0 1 2\n1 0\n2 3 1\n")
    write(tmp_path / "test.txt", "0 3\n1\n2 0 4\n")
    train, test = load_lightgcn(tmp_path)
    assert (train.n_users, train.n_items) == (test.n_users, test.n_items) == (3, 5)
    assert pair_set(train) == {(0, 1), (0, 2), (1, 0), (2, 3), (2, 1)}
    assert pair_set(test) == {(0, 3), (2, 0), (2, 4)}
    write(tmp_path / "test.txt", "0 3\n1 x\n")
    with pytest.raises(ValueError, match=r"test.txt, line 2"):
        load_lightgcn(tmp_path)


def test_load_lightgcn_npz_matches_txt(tmp_path):
    import scipy.sparse as sp

    R = sp.csr_matrix(np.array([[0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=np.float32))
    adj = sp.bmat([[None, R], [R.T, None]]).tocsr()
    sp.save_npz(tmp_path / "s_adj_mat.npz", adj)
    write(tmp_path / "test.txt", "0 3\n2 0\n")
    train, test = load_lightgcn(tmp_path)
    assert (train.n_users, train.n_items) == (3, 4)
    assert pair_set(train) == {(0, 1), (0, 2), (1, 0), (2, 3)}
    # a test id beyond the matrix is an error
    write(tmp_path / "test.txt", "0 3\n5 0\n")
    with pytest.raises(ValueError, match="exceed"):
        load_lightgcn(tmp_path)
    # not bipartite
    sp.save_npz(tmp_path / "s_adj_mat.npz", sp.csr_matrix(np.ones((4, 4), np.float32)))
    with pytest.raises(ValueError, match="bipartite"):
        load_lightgcn(tmp_path)


def test_load_lightgcn_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="test.txt"):
        load_lightgcn(tmp_path)
    write(tmp_path / "test.txt", "0 1\n")
    with pytest.raises(FileNotFoundError, match="train.txt or s_adj_mat.npz"):
        load_lightgcn(tmp_path)
    import scipy.sparse as sp

    R = sp.csr_matrix(np.eye(3, dtype=np.float32))
    sp.save_npz(tmp_path / "full.npz", sp.bmat([[None, R], [R.T, None]]).tocsr())
    raw = (tmp_path / "full.npz").read_bytes()
    write(tmp_path / "s_adj_mat.npz", raw[: len(raw) // 2], mode="wb")
    with pytest.raises(ValueError, match="s_adj_mat.npz"):
        load_lightgcn(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_lightgcn(tmp_path / "nowhere")


def test_gowalla_statistics(dataset, tmp_path):
    folder = dataset("gowalla-lightgcn")
    train, test = load_lightgcn(folder)
    assert (len(train), len(test)) == (810128, 217242)
    assert (train.n_users, train.n_items) == (test.n_users, test.n_items) == (29858, 40981)
    assert (train.user_counts() > 0).all()
    # the same training pairs written as train.txt load identically
    indptr, indices = train.csr_arrays()
    lines = [" ".join(map(str, [u, *indices[indptr[u]:indptr[u + 1]]])) for u in range(train.n_users)]
    write(tmp_path / "train.txt", "\n".join(lines) + "\n")
    shutil.copy(folder / "test.txt", tmp_path / "test.txt")
    train2, test2 = load_lightgcn(tmp_path)
    np.testing.assert_array_equal(train2.csr_arrays()[1], indices)
    np.testing.assert_array_equal(test2.csr_arrays()[1], test.csr_arrays()[1])
