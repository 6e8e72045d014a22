// The only file that knows about Python: it checks NumPy arrays (dtype, shape, layout,
// writability; values are checked once, by the engine), converts them to engine views, translates
// exceptions, and releases the GIL around every call into the engine.
//
// Every model family has one block of the same shape, bind_<model>:
//   * its config class: fields readable and writable as attributes, or all set at once from one
//     dict of hyper-parameters (Config({"lr": 0.05, "eps": 0.5})); validate() is the engine's;
//   * train_<model>(arrays, <training data>, config) -> the epoch's figures as a dict, where
//     `arrays` maps parameter names to NumPy arrays (absent or None: not part of the model);
//   * its loss gradients (what the attacks differentiate), again from a dict of arrays.
// Test-only entry points live in the `_testing` submodule.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "advrec/adversary.hpp"
#include "advrec/beyond.hpp"
#include "advrec/cdae.hpp"
#include "advrec/cfgan.hpp"
#include "advrec/csr.hpp"
#include "advrec/eals.hpp"
#include "advrec/eval.hpp"
#include "advrec/irgan.hpp"
#include "advrec/mf.hpp"
#include "advrec/neumf.hpp"
#include "advrec/sasrec.hpp"
#include "advrec/vbpr.hpp"

#include <cstdint>
#include <string>
#include <utility>

namespace py = pybind11;
using namespace advrec;

#ifndef ADVREC_MODULE_NAME
#define ADVREC_MODULE_NAME _core
#endif
#ifndef ADVREC_VARIANT
#define ADVREC_VARIANT "base"
#endif

namespace {

// ---- array checks ---------------------------------------------------------------------------
// Parameters are written in place, so they must already be the exact dtype and layout: a silent
// conversion would train a copy and leave the model untouched.
template <class T>
T* mutable_data(py::handle obj, const char* name, py::ssize_t rows, py::ssize_t cols) {
  if (!py::isinstance<py::array_t<T>>(obj)) {
    throw py::type_error(std::string(name) + " must be a numpy array of dtype " +
                         py::str(py::dtype::of<T>()).cast<std::string>());
  }
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (!arr.dtype().is(py::dtype::of<T>())) {
    throw py::type_error(std::string(name) + " must have dtype " + py::str(py::dtype::of<T>()).cast<std::string>() +
                         ", got " + py::str(arr.dtype()).cast<std::string>());
  }
  if (!(arr.flags() & py::array::c_style)) throw py::value_error(std::string(name) + " must be C-contiguous");
  if (!arr.writeable()) throw py::value_error(std::string(name) + " must be writeable");
  const py::ssize_t want_ndim = cols < 0 ? 1 : 2;
  if (arr.ndim() != want_ndim || arr.shape(0) != rows || (cols >= 0 && arr.shape(1) != cols)) {
    std::string shape = "(" + std::to_string(rows) + (cols >= 0 ? ", " + std::to_string(cols) : std::string(",")) + ")";
    throw py::value_error(std::string(name) + " must have shape " + shape);
  }
  return static_cast<T*>(arr.mutable_data());
}

template <class T>
T* optional_mutable(py::handle obj, const char* name, py::ssize_t rows, py::ssize_t cols) {
  return obj.is_none() ? nullptr : mutable_data<T>(obj, name, rows, cols);
}

// Read-only inputs: converted to the engine's dtype when that is lossless (pybind11 forcecast is
// not used, so float data passed as ids is rejected rather than truncated).
template <class T>
py::array_t<T, py::array::c_style> input_array(py::handle obj, const char* name) {
  auto arr = py::array::ensure(obj);
  if (!arr) throw py::type_error(std::string(name) + " must be array-like");
  if (std::is_integral<T>::value && arr.size() > 0 && arr.dtype().kind() != 'i' && arr.dtype().kind() != 'u') {
    throw py::type_error(std::string(name) + " must hold integers, got dtype " + py::str(arr.dtype()).cast<std::string>());
  }
  return py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(arr);
}

struct CsrArrays {
  py::array_t<std::int64_t, py::array::c_style> indptr;
  py::array_t<std::int32_t, py::array::c_style> indices;
  CsrView view;
};

CsrArrays csr_from(py::handle indptr, py::handle indices, std::int32_t n_cols, const char* name) {
  CsrArrays c{input_array<std::int64_t>(indptr, "indptr"), input_array<std::int32_t>(indices, "indices"), {}};
  if (c.indptr.ndim() != 1 || c.indptr.size() < 1) throw py::value_error(std::string(name) + ": indptr must be 1-d and non-empty");
  if (c.indices.ndim() != 1) throw py::value_error(std::string(name) + ": indices must be 1-d");
  const std::int64_t nnz = c.indptr.data()[c.indptr.size() - 1];
  if (nnz != c.indices.size()) throw py::value_error(std::string(name) + ": indptr[-1] does not match len(indices)");
  c.view = CsrView{static_cast<std::int32_t>(c.indptr.size() - 1), n_cols, c.indptr.data(), c.indices.data()};
  return c;
}

// A train/test pair over the same users and items, both validated.
struct TrainTest {
  CsrArrays train, test;
};

TrainTest train_test_from(py::handle tr_indptr, py::handle tr_indices, py::handle te_indptr, py::handle te_indices,
                          std::int32_t n_items) {
  TrainTest t{csr_from(tr_indptr, tr_indices, n_items, "train"), csr_from(te_indptr, te_indices, n_items, "test")};
  t.train.view.validate("train");
  t.test.view.validate("test");
  if (t.train.view.n_rows != t.test.view.n_rows) throw py::value_error("train and test must have the same users");
  return t;
}

py::handle dict_get(const py::dict& d, const char* key) {
  return d.contains(key) ? py::handle(d[key]) : py::handle(Py_None);
}

// The shape of a required 2-d parameter array (its dtype and layout are checked by mutable_data).
std::pair<py::ssize_t, py::ssize_t> shape_2d(py::handle obj, const char* name) {
  if (!py::isinstance<py::array>(obj) || py::reinterpret_borrow<py::array>(obj).ndim() != 2) {
    throw py::type_error(std::string(name) + " must be a 2-d numpy array");
  }
  auto a = py::reinterpret_borrow<py::array>(obj);
  return {a.shape(0), a.shape(1)};
}

template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({static_cast<py::ssize_t>(heap->size())}, {sizeof(T)}, heap->data(), owner);
}

// (users, pos, neg) id arrays of equal length.
struct TripleArrays {
  py::array_t<std::int32_t, py::array::c_style> u, i, j;
  Index size() const { return u.size(); }
};

TripleArrays triples_from(py::handle users, py::handle pos, py::handle neg) {
  TripleArrays t{input_array<std::int32_t>(users, "users"), input_array<std::int32_t>(pos, "pos"),
                 input_array<std::int32_t>(neg, "neg")};
  if (t.u.size() != t.i.size() || t.u.size() != t.j.size()) {
    throw py::value_error("users, pos and neg must have the same length");
  }
  return t;
}

// A new float32 output array, or None (and a null pointer) when not wanted.
py::object optional_output(bool want, std::vector<py::ssize_t> shape, float*& ptr) {
  ptr = nullptr;
  if (!want) return py::none();
  py::array_t<float> a(shape);
  ptr = a.mutable_data();
  return std::move(a);
}

// The one EpochStats -> dict conversion. Sequence models count positions (their samples) and
// sequences; the sampled trainers count samples and skipped draws.
py::dict stats_dict(const EpochStats& stats) {
  py::dict out;
  if (stats.sequences > 0) {
    out["sequences"] = stats.sequences;
    out["positions"] = stats.samples;
  } else {
    out["samples"] = stats.samples;
    out["skipped"] = stats.skipped;
  }
  out["loss"] = stats.loss;
  out["adv_loss"] = stats.adv_loss;
  out["accuracy"] = stats.accuracy;
  return out;
}

// A config class: default constructor, constructor from one dict of hyper-parameters (every key
// must name a field), and the engine's validate(). The caller adds the fields.
template <class Config>
py::class_<Config> config_class(py::module_& m, const char* name) {
  py::class_<Config> cls(m, name, py::module_local());
  const std::string type_name(name);
  cls.def(py::init<>());
  cls.def(py::init([type_name](const py::dict& hyper) {
            Config c;
            py::object view = py::cast(&c, py::return_value_policy::reference);
            for (auto item : hyper) {
              const std::string key = py::str(item.first);
              if (!py::hasattr(view, key.c_str())) {
                throw py::value_error(type_name + " has no hyper-parameter '" + key + "'");
              }
              view.attr(key.c_str()) = item.second;
            }
            return c;
          }),
          py::arg("hyper"));
  cls.def("validate", &Config::validate);
  return cls;
}

// The adversarial term's fields as attributes of the config that embeds it.
template <class Config>
void adversarial_fields(py::class_<Config>& cls) {
  cls.def_property(
         "eps", [](const Config& c) { return c.adv.eps; }, [](Config& c, float v) { c.adv.eps = v; })
      .def_property(
          "reg_adv", [](const Config& c) { return c.adv.reg_adv; }, [](Config& c, float v) { c.adv.reg_adv = v; });
}

py::dict cpu_features() {
  py::dict d;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  d["avx2"] = static_cast<bool>(__builtin_cpu_supports("avx2")) && static_cast<bool>(__builtin_cpu_supports("fma"));
  d["avx512"] = static_cast<bool>(__builtin_cpu_supports("avx512f")) && static_cast<bool>(__builtin_cpu_supports("avx512bw")) &&
                static_cast<bool>(__builtin_cpu_supports("avx512vl")) && static_cast<bool>(__builtin_cpu_supports("avx512dq"));
#else
  d["avx2"] = false;
  d["avx512"] = false;
#endif
  return d;
}

int openmp_threads() {
  return resolve_threads(0);
}

// ---- BPR-MF / AMF (advrec/mf.hpp) ----------------------------------------------------------------
// arrays: user_factors, item_factors (required), item_bias, user_accum, item_accum, bias_accum.
MFParams mf_params(const py::dict& a) {
  py::handle P = dict_get(a, "user_factors"), Q = dict_get(a, "item_factors");
  const auto p = shape_2d(P, "user_factors");
  const auto q = shape_2d(Q, "item_factors");
  MFParams m;
  m.n_users = static_cast<std::int32_t>(p.first);
  m.n_items = static_cast<std::int32_t>(q.first);
  m.dim = static_cast<std::int32_t>(p.second);
  m.user_factors = mutable_data<float>(P, "user_factors", m.n_users, m.dim);
  m.item_factors = mutable_data<float>(Q, "item_factors", m.n_items, m.dim);
  m.item_bias = optional_mutable<float>(dict_get(a, "item_bias"), "item_bias", m.n_items, -1);
  m.user_accum = optional_mutable<float>(dict_get(a, "user_accum"), "user_accum", m.n_users, m.dim);
  m.item_accum = optional_mutable<float>(dict_get(a, "item_accum"), "item_accum", m.n_items, m.dim);
  m.bias_accum = optional_mutable<float>(dict_get(a, "bias_accum"), "bias_accum", m.n_items, -1);
  return m;
}

// Shared by the sampled trainers: how negatives are drawn, and the per-fit training index.
void bind_sampling(py::module_& m) {
  py::enum_<NegativeSampling>(m, "NegativeSampling", py::module_local())
      .value("uniform", NegativeSampling::Uniform)
      .value("popularity", NegativeSampling::Popularity);
  py::class_<TrainingIndex>(m, "TrainingIndex", py::module_local(),
                            "A training set's pairs and membership set, built once per fit")
      .def(py::init([](py::handle indptr, py::handle indices, std::int32_t n_items) {
             auto train = csr_from(indptr, indices, n_items, "train");
             py::gil_scoped_release release;
             return std::make_unique<TrainingIndex>(train.view);
           }),
           py::arg("indptr"), py::arg("indices"), py::arg("n_items"))
      .def_property_readonly("n_users", &TrainingIndex::n_users)
      .def_property_readonly("n_items", &TrainingIndex::n_items)
      .def_property_readonly("nnz", &TrainingIndex::nnz)
      .def("contains", &TrainingIndex::contains, py::arg("user"), py::arg("item"));
}

void bind_mf(py::module_& m, py::module_& testing) {
  auto cls = config_class<MFTrainConfig>(m, "MFTrainConfig");
  cls.def_readwrite("lr", &MFTrainConfig::lr)
      .def_readwrite("reg", &MFTrainConfig::reg)
      .def_readwrite("reg_bias", &MFTrainConfig::reg_bias)
      .def_readwrite("optimizer", &MFTrainConfig::optimizer)
      .def_readwrite("perturb_users", &MFTrainConfig::perturb_users)
      .def_readwrite("perturb_items", &MFTrainConfig::perturb_items)
      .def_readwrite("batch_size", &MFTrainConfig::batch_size)
      .def_readwrite("n_samples", &MFTrainConfig::n_samples)
      .def_readwrite("negatives", &MFTrainConfig::negatives)
      .def_readwrite("num_threads", &MFTrainConfig::num_threads)
      .def_readwrite("seed", &MFTrainConfig::seed)
      .def_readwrite("epoch", &MFTrainConfig::epoch);
  adversarial_fields(cls);

  m.def("train_mf", [](const py::dict& arrays, py::handle indptr, py::handle indices, const MFTrainConfig& config) {
    MFParams params = mf_params(arrays);
    auto train = csr_from(indptr, indices, params.n_items, "train");
    EpochStats stats;
    {
      py::gil_scoped_release release;
      stats = train_mf(params, train.view, config);
    }
    return stats_dict(stats);
  }, py::arg("arrays"), py::arg("indptr"), py::arg("indices"), py::arg("config"));
  m.def("train_mf", [](const py::dict& arrays, const TrainingIndex& index, const MFTrainConfig& config) {
    MFParams params = mf_params(arrays);
    EpochStats stats;
    {
      py::gil_scoped_release release;
      stats = train_mf(params, index, config);
    }
    return stats_dict(stats);
  }, py::arg("arrays"), py::arg("index"), py::arg("config"));

  m.def("bpr_gradients", [](const py::dict& arrays, py::handle users, py::handle pos, py::handle neg,
                            bool want_users, bool want_items, int num_threads) {
    MFParams params = mf_params(arrays);
    auto t = triples_from(users, pos, neg);
    float *gu_ptr, *gi_ptr;
    py::object gu = optional_output(want_users, {params.n_users, params.dim}, gu_ptr);
    py::object gi = optional_output(want_items, {params.n_items, params.dim}, gi_ptr);
    double loss;
    Index correct = 0;
    {
      py::gil_scoped_release release;
      loss = bpr_gradients(params, t.u.data(), t.i.data(), t.j.data(), t.size(), gu_ptr, gi_ptr, &correct, num_threads);
    }
    return py::make_tuple(loss, correct, gu, gi);
  }, py::arg("arrays"), py::arg("users"), py::arg("pos"), py::arg("neg"), py::arg("want_users") = true,
     py::arg("want_items") = true, py::arg("num_threads") = 0);

  testing.def("train_mf_on_triples", [](const py::dict& arrays, py::handle users, py::handle pos, py::handle neg,
                                        const MFTrainConfig& config) {
    MFParams params = mf_params(arrays);
    auto t = triples_from(users, pos, neg);
    EpochStats stats;
    {
      py::gil_scoped_release release;
      stats = train_mf_on_triples(params, t.u.data(), t.i.data(), t.j.data(), t.size(), config);
    }
    return stats_dict(stats);
  }, py::arg("arrays"), py::arg("users"), py::arg("pos"), py::arg("neg"), py::arg("config"));
}

// ---- VBPR / AMR / content-only (advrec/vbpr.hpp) -------------------------------------------------
// arrays: features, projection, user_visual (required); user_factors + item_factors (the ID part),
// item_bias, visual_bias and the Adagrad accumulators (optional). The AMR model shares one user
// matrix: pass the same array as user_factors and user_visual.
struct VbprArrays {
  VBPRParams params;
  py::array_t<float, py::array::c_style> features;  // keeps a converted copy alive
  py::object delta_keep;
};

VbprArrays vbpr_arrays(const py::dict& d) {
  VbprArrays out;
  VBPRParams& m = out.params;
  py::handle F = dict_get(d, "features"), E = dict_get(d, "projection"), H = dict_get(d, "user_visual");
  if (F.is_none() || E.is_none() || H.is_none()) throw py::value_error("features, projection and user_visual are required");
  auto f = py::reinterpret_borrow<py::array>(F);
  if (!py::isinstance<py::array>(F) || f.ndim() != 2) throw py::type_error("item features must be a 2-d numpy array");
  if (!f.dtype().is(py::dtype::of<float>())) throw py::type_error("item features must have dtype float32");
  if (!(f.flags() & py::array::c_style)) throw py::value_error("item features must be C-contiguous");
  out.features = py::reinterpret_borrow<py::array_t<float, py::array::c_style>>(F);
  auto e = py::reinterpret_borrow<py::array>(E);
  auto h = py::reinterpret_borrow<py::array>(H);
  if (!py::isinstance<py::array>(E) || e.ndim() != 2) throw py::type_error("projection must be a 2-d numpy array");
  if (!py::isinstance<py::array>(H) || h.ndim() != 2) throw py::type_error("user_visual must be a 2-d numpy array");
  m.n_items = static_cast<std::int32_t>(f.shape(0));
  m.n_features = static_cast<std::int32_t>(f.shape(1));
  m.n_users = static_cast<std::int32_t>(h.shape(0));
  m.vdim = static_cast<std::int32_t>(e.shape(1));
  m.features = out.features.data();
  m.projection = mutable_data<float>(E, "projection", m.n_features, m.vdim);
  m.user_visual = mutable_data<float>(H, "user_visual", m.n_users, m.vdim);
  py::handle P = dict_get(d, "user_factors"), Q = dict_get(d, "item_factors");
  if (!P.is_none()) {
    auto pa = py::reinterpret_borrow<py::array>(P);
    if (!py::isinstance<py::array>(P) || pa.ndim() != 2) throw py::type_error("user_factors must be a 2-d numpy array");
    m.dim = static_cast<std::int32_t>(pa.shape(1));
    m.user_factors = mutable_data<float>(P, "user_factors", m.n_users, m.dim);
    m.item_factors = mutable_data<float>(Q, "item_factors", m.n_items, m.dim);
  }
  m.item_bias = optional_mutable<float>(dict_get(d, "item_bias"), "item_bias", m.n_items, -1);
  m.visual_bias = optional_mutable<float>(dict_get(d, "visual_bias"), "visual_bias", m.n_features, -1);
  if (m.dim) {
    m.user_accum = optional_mutable<float>(dict_get(d, "user_accum"), "user_accum", m.n_users, m.dim);
    m.item_accum = optional_mutable<float>(dict_get(d, "item_accum"), "item_accum", m.n_items, m.dim);
  }
  m.user_visual_accum = optional_mutable<float>(dict_get(d, "user_visual_accum"), "user_visual_accum", m.n_users, m.vdim);
  m.projection_accum = optional_mutable<float>(dict_get(d, "projection_accum"), "projection_accum", m.n_features, m.vdim);
  m.bias_accum = optional_mutable<float>(dict_get(d, "bias_accum"), "bias_accum", m.n_items, -1);
  m.visual_bias_accum = optional_mutable<float>(dict_get(d, "visual_bias_accum"), "visual_bias_accum", m.n_features, -1);
  return out;
}

const float* optional_delta(py::handle delta, const VBPRParams& m, py::object& keep) {
  if (delta.is_none()) return nullptr;
  auto arr = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(delta);
  if (!arr || arr.ndim() != 2 || arr.shape(0) != m.n_items || arr.shape(1) != m.n_features)
    throw py::value_error("delta must have shape (" + std::to_string(m.n_items) + ", " + std::to_string(m.n_features) + ")");
  keep = arr;
  return arr.data();
}

void bind_vbpr(py::module_& m, py::module_& testing) {
  auto cls = config_class<VBPRTrainConfig>(m, "VBPRTrainConfig");
  cls.def_readwrite("lr", &VBPRTrainConfig::lr)
      .def_readwrite("reg", &VBPRTrainConfig::reg)
      .def_readwrite("reg_bias", &VBPRTrainConfig::reg_bias)
      .def_readwrite("reg_projection", &VBPRTrainConfig::reg_projection)
      .def_readwrite("optimizer", &VBPRTrainConfig::optimizer)
      .def_readwrite("batch_size", &VBPRTrainConfig::batch_size)
      .def_readwrite("cold_negatives", &VBPRTrainConfig::cold_negatives)
      .def_readwrite("n_samples", &VBPRTrainConfig::n_samples)
      .def_readwrite("num_threads", &VBPRTrainConfig::num_threads)
      .def_readwrite("seed", &VBPRTrainConfig::seed)
      .def_readwrite("epoch", &VBPRTrainConfig::epoch);
  adversarial_fields(cls);

  m.def("train_vbpr", [](const py::dict& arrays, py::handle indptr, py::handle indices, const VBPRTrainConfig& config) {
    VbprArrays a = vbpr_arrays(arrays);
    auto train = csr_from(indptr, indices, a.params.n_items, "train");
    EpochStats stats;
    {
      py::gil_scoped_release release;
      stats = train_vbpr(a.params, train.view, config);
    }
    return stats_dict(stats);
  }, py::arg("arrays"), py::arg("indptr"), py::arg("indices"), py::arg("config"));

  m.def("vbpr_feature_gradients", [](const py::dict& arrays, py::handle delta, py::handle users, py::handle pos,
                                     py::handle neg, int num_threads) {
    VbprArrays a = vbpr_arrays(arrays);
    py::object keep;
    const float* dptr = optional_delta(delta, a.params, keep);
    auto t = triples_from(users, pos, neg);
    float* gptr;
    py::object grad = optional_output(true, {a.params.n_items, a.params.n_features}, gptr);
    double loss;
    Index correct = 0;
    {
      py::gil_scoped_release release;
      loss = vbpr_feature_gradients(a.params, dptr, t.u.data(), t.i.data(), t.j.data(), t.size(), gptr, &correct,
                                    num_threads);
    }
    return py::make_tuple(loss, correct, grad);
  }, py::arg("arrays"), py::arg("delta"), py::arg("users"), py::arg("pos"), py::arg("neg"), py::arg("num_threads") = 0);

  m.def("vbpr_item_content", [](const py::dict& arrays, py::handle delta, int num_threads) {
    VbprArrays a = vbpr_arrays(arrays);
    py::object keep;
    const float* dptr = optional_delta(delta, a.params, keep);
    py::array_t<float> v({static_cast<py::ssize_t>(a.params.n_items), static_cast<py::ssize_t>(a.params.vdim)});
    py::array_t<float> b({static_cast<py::ssize_t>(a.params.n_items)});
    float* vptr = v.mutable_data();
    float* bptr = b.mutable_data();
    {
      py::gil_scoped_release release;
      std::fill_n(bptr, a.params.n_items, 0.0f);
      vbpr_item_content(a.params, dptr, vptr, bptr, num_threads);
    }
    return py::make_tuple(v, b);
  }, py::arg("arrays"), py::arg("delta") = py::none(), py::arg("num_threads") = 0);

  testing.def("train_vbpr_on_triples", [](const py::dict& arrays, py::handle users, py::handle pos, py::handle neg,
                                          const VBPRTrainConfig& config) {
    VbprArrays a = vbpr_arrays(arrays);
    auto t = triples_from(users, pos, neg);
    EpochStats stats;
    {
      py::gil_scoped_release release;
      stats = train_vbpr_on_triples(a.params, t.u.data(), t.i.data(), t.j.data(), t.size(), config);
    }
    return stats_dict(stats);
  }, py::arg("arrays"), py::arg("users"), py::arg("pos"), py::arg("neg"), py::arg("config"));
}

// ---- SASRec / SAO (advrec/sasrec.hpp) --------------------------------------------------------------
// arrays: item_emb, dense (required); item_m, item_v, dense_m, dense_v, step (Adam state, required
// for training). Shapes follow config.dim / maxlen / blocks, so the config is validated first.
SASRecParams sasrec_params(const py::dict& a, const SASRecConfig& cfg, bool with_adam) {
  cfg.validate();
  py::handle E = dict_get(a, "item_emb");
  const auto q = shape_2d(E, "item_emb");
  const Index nd = SASRecLayout(cfg.dim, cfg.maxlen, cfg.blocks).size();
  SASRecParams p;
  p.n_items = static_cast<std::int32_t>(q.first);
  p.item_emb = mutable_data<float>(E, "item_emb", q.first, cfg.dim);
  p.dense = mutable_data<float>(dict_get(a, "dense"), "dense", nd, -1);
  if (with_adam) {
    p.item_m = mutable_data<float>(dict_get(a, "item_m"), "item_m", p.n_items, cfg.dim);
    p.item_v = mutable_data<float>(dict_get(a, "item_v"), "item_v", p.n_items, cfg.dim);
    p.dense_m = mutable_data<float>(dict_get(a, "dense_m"), "dense_m", nd, -1);
    p.dense_v = mutable_data<float>(dict_get(a, "dense_v"), "dense_v", nd, -1);
    p.step = mutable_data<std::int64_t>(dict_get(a, "step"), "step", 1, -1);
  }
  return p;
}

void bind_sasrec(py::module_& m) {
  py::enum_<SeqPerturb>(m, "SeqPerturb", py::module_local())
      .value("paper", SeqPerturb::Paper)
      .value("output", SeqPerturb::Output);

  auto cls = config_class<SASRecConfig>(m, "SASRecConfig");
  cls.def_readwrite("dim", &SASRecConfig::dim)
      .def_readwrite("maxlen", &SASRecConfig::maxlen)
      .def_readwrite("blocks", &SASRecConfig::blocks)
      .def_readwrite("heads", &SASRecConfig::heads)
      .def_readwrite("dropout", &SASRecConfig::dropout)
      .def_readwrite("lr", &SASRecConfig::lr)
      .def_readwrite("beta1", &SASRecConfig::beta1)
      .def_readwrite("beta2", &SASRecConfig::beta2)
      .def_readwrite("adam_eps", &SASRecConfig::adam_eps)
      .def_readwrite("l2", &SASRecConfig::l2)
      .def_readwrite("batch_size", &SASRecConfig::batch_size)
      .def_readwrite("perturb", &SASRecConfig::perturb)
      .def_readwrite("sync", &SASRecConfig::sync)
      .def_readwrite("lazy_adam", &SASRecConfig::lazy_adam)
      .def_readwrite("num_threads", &SASRecConfig::num_threads)
      .def_readwrite("seed", &SASRecConfig::seed)
      .def_readwrite("epoch", &SASRecConfig::epoch);
  adversarial_fields(cls);

  // The names, offsets and shapes of the dense parameters (the model saves them by name).
  m.def("sasrec_layout", [](int dim, int maxlen, int blocks) {
    const SASRecLayout L(dim, maxlen, blocks);
    py::list out;  // (name, offset, shape)
    const Index d = dim;
    out.append(py::make_tuple("pos", L.pos(), py::make_tuple(maxlen, d)));
    for (int b = 0; b < blocks; ++b) {
      const std::string p = "block" + std::to_string(b) + ".";
      out.append(py::make_tuple(p + "ln1_g", L.ln1_g(b), py::make_tuple(d)));
      out.append(py::make_tuple(p + "ln1_b", L.ln1_b(b), py::make_tuple(d)));
      out.append(py::make_tuple(p + "wq", L.wq(b), py::make_tuple(d, d)));
      out.append(py::make_tuple(p + "bq", L.bq(b), py::make_tuple(d)));
      out.append(py::make_tuple(p + "wk", L.wk(b), py::make_tuple(d, d)));
      out.append(py::make_tuple(p + "bk", L.bk(b), py::make_tuple(d)));
      out.append(py::make_tuple(p + "wv", L.wv(b), py::make_tuple(d, d)));
      out.append(py::make_tuple(p + "bv", L.bv(b), py::make_tuple(d)));
      out.append(py::make_tuple(p + "ln2_g", L.ln2_g(b), py::make_tuple(d)));
      out.append(py::make_tuple(p + "ln2_b", L.ln2_b(b), py::make_tuple(d)));
      out.append(py::make_tuple(p + "w1", L.w1(b), py::make_tuple(d, d)));
      out.append(py::make_tuple(p + "b1", L.b1(b), py::make_tuple(d)));
      out.append(py::make_tuple(p + "w2", L.w2(b), py::make_tuple(d, d)));
      out.append(py::make_tuple(p + "b2", L.b2(b), py::make_tuple(d)));
    }
    out.append(py::make_tuple("final_g", L.final_g(), py::make_tuple(d)));
    out.append(py::make_tuple("final_b", L.final_b(), py::make_tuple(d)));
    return py::make_tuple(L.size(), out);
  }, py::arg("dim"), py::arg("maxlen"), py::arg("blocks"));

  m.def("train_sasrec", [](const py::dict& arrays, py::handle seq_indptr, py::handle seq_items,
                           py::handle hist_indptr, py::handle hist_indices, const SASRecConfig& config) {
    SASRecParams p = sasrec_params(arrays, config, true);
    auto seqs = csr_from(seq_indptr, seq_items, p.n_items, "sequences");
    auto hist = csr_from(hist_indptr, hist_indices, p.n_items, "history");
    EpochStats stats;
    {
      py::gil_scoped_release release;
      stats = train_sasrec(p, seqs.view, hist.view, config);
    }
    return stats_dict(stats);
  }, py::arg("arrays"), py::arg("seq_indptr"), py::arg("seq_items"), py::arg("hist_indptr"),
     py::arg("hist_indices"), py::arg("config"));

  m.def("sasrec_encode", [](const py::dict& arrays, py::handle seq_indptr, py::handle seq_items, py::handle users,
                            const SASRecConfig& config) {
    SASRecParams p = sasrec_params(arrays, config, false);
    auto seqs = csr_from(seq_indptr, seq_items, p.n_items, "sequences");
    auto u = input_array<std::int32_t>(users, "users");
    py::array_t<float> out({static_cast<py::ssize_t>(u.size()), static_cast<py::ssize_t>(config.dim)});
    float* o = out.mutable_data();
    {
      py::gil_scoped_release release;
      sasrec_encode(p, seqs.view, u.data(), u.size(), config, o);
    }
    return out;
  }, py::arg("arrays"), py::arg("seq_indptr"), py::arg("seq_items"), py::arg("users"), py::arg("config"));

  m.def("sasrec_loss_gradients", [](const py::dict& arrays, py::handle seq_indptr, py::handle seq_items,
                                    py::handle neg, py::handle users, py::handle item_delta,
                                    const SASRecConfig& config, bool want_dense, int num_threads) {
    SASRecParams p = sasrec_params(arrays, config, false);
    auto seqs = csr_from(seq_indptr, seq_items, p.n_items, "sequences");
    auto ng = input_array<std::int32_t>(neg, "neg");
    if (ng.size() != seqs.indices.size()) throw py::value_error("neg must have one entry per sequence item");
    auto u = input_array<std::int32_t>(users, "users");
    py::array_t<float, py::array::c_style> delta;
    const float* dptr = nullptr;
    if (!item_delta.is_none()) {
      delta = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(item_delta);
      if (!delta || delta.ndim() != 2 || delta.shape(0) != p.n_items || delta.shape(1) != config.dim) {
        throw py::value_error("item_delta must have the shape of item_emb");
      }
      dptr = delta.data();
    }
    float *gip, *gd;
    py::object gi = optional_output(true, {p.n_items, config.dim}, gip);
    py::object gd_obj = optional_output(want_dense, {SASRecLayout(config.dim, config.maxlen, config.blocks).size()}, gd);
    double loss;
    Index correct = 0;
    {
      py::gil_scoped_release release;
      loss = sasrec_loss_gradients(p, seqs.view, ng.data(), u.data(), u.size(), dptr, config, gip, gd, &correct,
                                   num_threads);
    }
    return py::make_tuple(loss, correct, gi, gd_obj);
  }, py::arg("arrays"), py::arg("seq_indptr"), py::arg("seq_items"), py::arg("neg"), py::arg("users"),
     py::arg("item_delta"), py::arg("config"), py::arg("want_dense") = false, py::arg("num_threads") = 0);
}

// ---- attacks (advrec/adversary.hpp) and their training sample ---------------------------------------
void bind_attacks(py::module_& m) {
  m.def("sample_triples", [](py::handle indptr, py::handle indices, std::int32_t n_items, std::uint64_t seed,
                             int negatives_per_pair, int num_threads) {
    auto train = csr_from(indptr, indices, n_items, "train");
    Triples t;
    {
      py::gil_scoped_release release;
      t = sample_triples(train.view, seed, negatives_per_pair, num_threads);
    }
    return py::make_tuple(to_numpy(std::move(t.users)), to_numpy(std::move(t.pos)), to_numpy(std::move(t.neg)));
  }, py::arg("indptr"), py::arg("indices"), py::arg("n_items"), py::arg("seed"), py::arg("negatives_per_pair") = 1,
     py::arg("num_threads") = 0);

  m.def("fgm_normalise_rows", [](py::handle mat, float eps, bool sign, int num_threads) {
    const auto shape = shape_2d(mat, "matrix");
    float* data = mutable_data<float>(mat, "matrix", shape.first, shape.second);
    py::gil_scoped_release release;
    fgm_normalise_rows(data, shape.first, static_cast<int>(shape.second), eps, sign, num_threads);
  }, py::arg("matrix"), py::arg("eps"), py::arg("sign") = false, py::arg("num_threads") = 0);

  m.def("project_rows", [](py::handle mat, float eps, bool linf, int num_threads) {
    const auto shape = shape_2d(mat, "matrix");
    float* data = mutable_data<float>(mat, "matrix", shape.first, shape.second);
    py::gil_scoped_release release;
    project_rows(data, shape.first, static_cast<int>(shape.second), eps, linf, num_threads);
  }, py::arg("matrix"), py::arg("eps"), py::arg("linf") = false, py::arg("num_threads") = 0);
}

// ---- evaluation (advrec/eval.hpp) -------------------------------------------------------------------
// CSRs are validated once per Python call (advrec.evaluation calls validate_csr before its batch
// loop), not here: evaluate_full runs once per batch of users.
struct FactorArray {
  py::array_t<float, py::array::c_style> array;
  FactorView view;
};

FactorArray factor_input(py::handle obj, const char* name) {
  auto arr = py::array::ensure(obj);
  if (!arr) throw py::type_error(std::string(name) + " must be array-like");
  if (arr.dtype().kind() != 'f') throw py::type_error(std::string(name) + " must hold floats, got dtype " + py::str(arr.dtype()).cast<std::string>());
  FactorArray f{py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(arr), {}};
  if (f.array.ndim() != 2) throw py::value_error(std::string(name) + " must be 2-d");
  f.view = FactorView{f.array.data(), static_cast<std::int32_t>(f.array.shape(0)), static_cast<std::int32_t>(f.array.shape(1))};
  return f;
}

py::array_t<std::int32_t, py::array::c_style> user_list(py::handle users) {
  auto u = input_array<std::int32_t>(users, "users");
  if (u.ndim() != 1) throw py::value_error("users must be 1-d");
  return u;
}

// The state of one evaluate() call's beyond-accuracy metrics: item statistics from the training
// data, the spec, optional unit-norm item features, and the totals every batch adds to.
struct ListMetrics {
  ItemStats items;
  std::vector<float> features;
  ListSpec spec;
  ListTotals totals;

  ListMetrics(const ListMetrics&) = delete;  // spec points into items and features
  ListMetrics& operator=(const ListMetrics&) = delete;
  ListMetrics(py::handle tr_indptr, py::handle tr_indices, std::int32_t n_items, const std::vector<std::int32_t>& ks,
              const std::vector<std::string>& metrics, double head_share, py::handle item_features) {
    auto train = csr_from(tr_indptr, tr_indices, n_items, "train");
    train.view.validate("train");
    spec.ks = ks;
    for (const auto& name : metrics) {
      if (!spec.enable(name)) throw py::value_error("unknown list metric '" + name + "'");
    }
    items = item_stats(train.view, head_share);
    spec.items = &items;
    if (!item_features.is_none()) {
      auto f = factor_input(item_features, "item_features");
      if (f.view.rows != n_items) {
        throw py::value_error("item_features must have one row per item (" + std::to_string(n_items) + "), got " +
                              std::to_string(f.view.rows));
      }
      features = unit_rows(f.view.data, f.view.rows, f.view.dim);
      spec.unit_features = features.data();
      spec.feature_dim = f.view.dim;
    }
    spec.check();
    totals.reset(spec.ks.size(), n_items);
  }
};

void bind_evaluation(py::module_& m) {
  m.def("top_k", [](py::handle U, py::handle V, std::int32_t k, py::handle ex_indptr, py::handle ex_indices,
                    py::handle ex_rows, int num_threads) {
    auto u = factor_input(U, "user factors");
    auto v = factor_input(V, "item factors");
    if (u.view.dim != v.view.dim) throw py::value_error("user and item factors must have the same number of columns");
    const py::ssize_t width = k > 0 ? k : 0;  // k <= 0 is the engine's error
    py::array_t<std::int32_t> ids({static_cast<py::ssize_t>(u.view.rows), width});
    py::array_t<float> scores({static_cast<py::ssize_t>(u.view.rows), width});
    if (ex_indptr.is_none()) {
      py::gil_scoped_release release;
      top_k(u.view, v.view, k, nullptr, nullptr, ids.mutable_data(), scores.mutable_data(), num_threads);
    } else {
      auto ex = csr_from(ex_indptr, ex_indices, v.view.rows, "exclude");
      auto rows = user_list(ex_rows);
      if (rows.size() != u.view.rows) throw py::value_error("exclude rows must have one entry per user row");
      py::gil_scoped_release release;
      top_k(u.view, v.view, k, &ex.view, rows.data(), ids.mutable_data(), scores.mutable_data(), num_threads);
    }
    return py::make_tuple(ids, scores);
  }, py::arg("user_factors"), py::arg("item_factors"), py::arg("k"), py::arg("exclude_indptr") = py::none(),
     py::arg("exclude_indices") = py::none(), py::arg("exclude_rows") = py::none(), py::arg("num_threads") = 0);

  py::dict names;
  names["user"] = user_list_metric_names();
  names["aggregate"] = aggregate_list_metric_names();
  m.attr("list_metric_names") = names;

  py::class_<ListMetrics>(m, "ListMetrics", py::module_local())
      .def(py::init<py::handle, py::handle, std::int32_t, const std::vector<std::int32_t>&,
                    const std::vector<std::string>&, double, py::handle>(),
           py::arg("train_indptr"), py::arg("train_indices"), py::arg("n_items"), py::arg("ks"), py::arg("metrics"),
           py::arg("head_share") = 0.8, py::arg("item_features") = py::none())
      .def_property_readonly("user_columns", [](const ListMetrics& l) { return l.spec.user_columns(); })
      .def_property_readonly("popularity", [](const ListMetrics& l) {
        return py::array_t<std::int64_t>(static_cast<py::ssize_t>(l.items.popularity.size()), l.items.popularity.data());
      })
      .def_property_readonly("long_tail", [](const ListMetrics& l) {
        py::array_t<bool> out(static_cast<py::ssize_t>(l.items.long_tail.size()));
        for (std::size_t i = 0; i < l.items.long_tail.size(); ++i) out.mutable_data()[i] = l.items.long_tail[i] != 0;
        return out;
      })
      .def_property_readonly("users", [](const ListMetrics& l) { return l.totals.users; })
      .def("add_lists", [](ListMetrics& l, py::handle ids, py::handle users, py::handle tr_indptr, py::handle tr_indices,
                           py::handle te_indptr, py::handle te_indices) {
        const std::int32_t n_items = l.items.n_items();
        const TrainTest data = train_test_from(tr_indptr, tr_indices, te_indptr, te_indices, n_items);
        const CsrArrays &train = data.train, &test = data.test;
        auto us = user_list(users);
        for (py::ssize_t r = 0; r < us.size(); ++r) {
          if (us.data()[r] < 0 || us.data()[r] >= train.view.n_rows) throw py::value_error("users contains an id out of range");
        }
        auto lists = input_array<std::int32_t>(ids, "ids");
        if (lists.ndim() != 2 || lists.shape(0) != us.size()) throw py::value_error("ids must have shape (len(users), K)");
        const auto K = static_cast<std::int32_t>(lists.shape(1));
        const int cols = l.spec.user_columns();
        py::array_t<double> out({us.size(), static_cast<py::ssize_t>(cols)});
        // Validate every list before adding any, so a bad row leaves the totals untouched.
        ListTotals scratch;
        scratch.reset(l.spec.ks.size(), n_items);
        for (py::ssize_t r = 0; r < us.size(); ++r) {
          list_metrics(lists.data() + r * K, K, us.data()[r], train.view, test.view, l.spec, out.mutable_data() + r * cols,
                       scratch);
        }
        l.totals.add(scratch);
        return out;
      }, py::arg("ids"), py::arg("users"), py::arg("train_indptr"), py::arg("train_indices"), py::arg("test_indptr"),
         py::arg("test_indices"),
         "Adds ranked lists (one row per user, best first, -1 padded) and returns their per-user metrics")
      .def("summary", [](const ListMetrics& l) {
        py::array_t<double> out(static_cast<py::ssize_t>(l.spec.aggregate_columns()));
        summarize_lists(l.totals, l.spec, out.mutable_data());
        return out;
      }, "The aggregate metrics of every list added so far");

  m.def("evaluate_full", [](py::handle U, py::handle V, py::handle tr_indptr, py::handle tr_indices,
                            py::handle te_indptr, py::handle te_indices, py::handle users,
                            const std::vector<std::int32_t>& ks, const std::vector<std::string>& metrics, int num_threads,
                            ListMetrics* lists) -> py::object {
    auto u = factor_input(U, "user factors");
    auto v = factor_input(V, "item factors");
    auto train = csr_from(tr_indptr, tr_indices, v.view.rows, "train");
    auto test = csr_from(te_indptr, te_indices, v.view.rows, "test");
    auto us = user_list(users);
    if (us.size() != u.view.rows) throw py::value_error("users must have one entry per user-factor row");
    const MetricSpec spec = MetricSpec::from_names(ks, metrics, lists != nullptr);
    py::array_t<double> out({static_cast<py::ssize_t>(u.view.rows), static_cast<py::ssize_t>(spec.columns())});
    if (!lists) {
      py::gil_scoped_release release;
      evaluate_full(u.view, v.view, train.view, test.view, us.data(), spec, out.mutable_data(), num_threads);
      return std::move(out);
    }
    if (lists->items.n_items() != v.view.rows) throw py::value_error("lists were set up for a different item count");
    py::array_t<double> per_user({static_cast<py::ssize_t>(u.view.rows), static_cast<py::ssize_t>(lists->spec.user_columns())});
    {
      py::gil_scoped_release release;
      ListOutput list_out{&lists->spec, per_user.mutable_data(), &lists->totals, nullptr};
      evaluate_full(u.view, v.view, train.view, test.view, us.data(), spec, out.mutable_data(), num_threads, &list_out);
    }
    return py::make_tuple(out, per_user);
  }, py::arg("user_factors"), py::arg("item_factors"), py::arg("train_indptr"), py::arg("train_indices"),
     py::arg("test_indptr"), py::arg("test_indices"), py::arg("users"), py::arg("ks"), py::arg("metrics"),
     py::arg("num_threads") = 0, py::arg("lists") = nullptr,
     "Accuracy metrics per user; with lists=ListMetrics(...), (accuracy, per-user list metrics) and the "
     "lists' totals updated from the same top-K pass");

  m.def("evaluate_sampled", [](py::handle U, py::handle V, py::handle te_indptr, py::handle te_indices, py::handle users,
                               py::handle negatives, const std::vector<std::int32_t>& ks,
                               const std::vector<std::string>& metrics, int num_threads) {
    auto u = factor_input(U, "user factors");
    auto v = factor_input(V, "item factors");
    auto test = csr_from(te_indptr, te_indices, v.view.rows, "test");
    auto us = user_list(users);
    if (us.size() != u.view.rows) throw py::value_error("users must have one entry per user-factor row");
    auto negs = input_array<std::int32_t>(negatives, "negatives");
    if (negs.ndim() != 2 || negs.shape(0) != u.view.rows) throw py::value_error("negatives must have shape (n_users, n_negatives)");
    const MetricSpec spec = MetricSpec::from_names(ks, metrics);
    py::array_t<double> out({static_cast<py::ssize_t>(u.view.rows), static_cast<py::ssize_t>(spec.columns())});
    {
      py::gil_scoped_release release;
      evaluate_sampled(u.view, v.view, test.view, us.data(), negs.data(), static_cast<std::int32_t>(negs.shape(1)), spec,
                       out.mutable_data(), num_threads);
    }
    return out;
  }, py::arg("user_factors"), py::arg("item_factors"), py::arg("test_indptr"), py::arg("test_indices"),
     py::arg("users"), py::arg("negatives"), py::arg("ks"), py::arg("metrics"), py::arg("num_threads") = 0);

  m.def("sample_negatives", [](py::handle tr_indptr, py::handle tr_indices, py::handle te_indptr, py::handle te_indices,
                               std::int32_t n_items, py::handle users, std::int32_t n_negatives, std::uint64_t seed,
                               py::handle weights, int num_threads) {
    auto train = csr_from(tr_indptr, tr_indices, n_items, "train");
    auto test = csr_from(te_indptr, te_indices, n_items, "test");
    auto us = user_list(users);
    py::array_t<double, py::array::c_style> w;
    const double* wp = nullptr;
    if (!weights.is_none()) {
      w = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(weights);
      if (!w || w.ndim() != 1 || w.size() != n_items) throw py::value_error("item weights must be 1-d with one value per item");
      wp = w.data();
    }
    const py::ssize_t width = n_negatives > 0 ? n_negatives : 0;  // n_negatives <= 0 is the engine's error
    py::array_t<std::int32_t> out({static_cast<py::ssize_t>(us.size()), width});
    {
      py::gil_scoped_release release;
      sample_negatives(train.view, test.view, us.data(), static_cast<std::int32_t>(us.size()), n_negatives, seed, wp,
                       out.mutable_data(), num_threads);
    }
    return out;
  }, py::arg("train_indptr"), py::arg("train_indices"), py::arg("test_indptr"), py::arg("test_indices"),
     py::arg("n_items"), py::arg("users"), py::arg("n_negatives"), py::arg("seed"), py::arg("item_weights") = py::none(),
     py::arg("num_threads") = 0);
}


// ---- neural-layer enums shared by CDAE and CFGAN (advrec/layers.hpp) -------------------------------
void bind_layers(py::module_& m) {
  py::enum_<Activation>(m, "Activation", py::module_local())
      .value("identity", Activation::Identity)
      .value("sigmoid", Activation::Sigmoid)
      .value("tanh", Activation::Tanh)
      .value("relu", Activation::ReLU);
}

// Shape (rows, cols) of a required 2-d float32 parameter in a dict of arrays.
std::pair<py::ssize_t, py::ssize_t> shape_2d(const py::dict& d, const char* key) {
  py::handle h = dict_get(d, key);
  if (h.is_none()) throw py::value_error(std::string(key) + " is required");
  if (!py::isinstance<py::array>(h) || py::reinterpret_borrow<py::array>(h).ndim() != 2)
    throw py::type_error(std::string(key) + " must be a 2-d numpy array");
  auto a = py::reinterpret_borrow<py::array>(h);
  return {a.shape(0), a.shape(1)};
}

// ---- CDAE (advrec/cdae.hpp) -------------------------------------------------------------------------
CDAEParams cdae_params(const py::dict& d) {
  CDAEParams p;
  const auto in = shape_2d(d, "item_in");
  const auto un = shape_2d(d, "user_node");
  p.n_items = static_cast<std::int32_t>(in.first);
  p.dim = static_cast<std::int32_t>(in.second);
  p.n_users = static_cast<std::int32_t>(un.first);
  p.item_in = mutable_data<float>(dict_get(d, "item_in"), "item_in", p.n_items, p.dim);
  p.user_node = mutable_data<float>(dict_get(d, "user_node"), "user_node", p.n_users, p.dim);
  p.hidden_bias = mutable_data<float>(dict_get(d, "hidden_bias"), "hidden_bias", p.dim, -1);
  p.item_out = mutable_data<float>(dict_get(d, "item_out"), "item_out", p.n_items, p.dim);
  p.out_bias = mutable_data<float>(dict_get(d, "out_bias"), "out_bias", p.n_items, -1);
  p.item_in_accum = optional_mutable<float>(dict_get(d, "item_in_accum"), "item_in_accum", p.n_items, p.dim);
  p.user_node_accum = optional_mutable<float>(dict_get(d, "user_node_accum"), "user_node_accum", p.n_users, p.dim);
  p.hidden_bias_accum = optional_mutable<float>(dict_get(d, "hidden_bias_accum"), "hidden_bias_accum", p.dim, -1);
  p.item_out_accum = optional_mutable<float>(dict_get(d, "item_out_accum"), "item_out_accum", p.n_items, p.dim);
  p.out_bias_accum = optional_mutable<float>(dict_get(d, "out_bias_accum"), "out_bias_accum", p.n_items, -1);
  return p;
}

void bind_cdae(py::module_& m) {
  py::enum_<CDAELoss>(m, "CDAELoss", py::module_local())
      .value("square", CDAELoss::Square)
      .value("logistic", CDAELoss::Logistic);
  py::class_<CDAEConfig>(m, "CDAEConfig", py::module_local())
      .def(py::init<>())
      .def_readwrite("lr", &CDAEConfig::lr)
      .def_readwrite("reg", &CDAEConfig::reg)
      .def_readwrite("corruption", &CDAEConfig::corruption)
      .def_readwrite("negatives", &CDAEConfig::negatives)
      .def_readwrite("hidden", &CDAEConfig::hidden)
      .def_readwrite("output", &CDAEConfig::output)
      .def_readwrite("loss", &CDAEConfig::loss)
      .def_readwrite("optimizer", &CDAEConfig::optimizer)
      .def_readwrite("num_threads", &CDAEConfig::num_threads)
      .def_readwrite("seed", &CDAEConfig::seed)
      .def_readwrite("epoch", &CDAEConfig::epoch)
      .def("validate", &CDAEConfig::validate);

  m.def("train_cdae", [](const py::dict& arrays, py::handle indptr, py::handle indices, const CDAEConfig& config) {
    CDAEParams p = cdae_params(arrays);
    auto train = csr_from(indptr, indices, p.n_items, "train");
    EpochStats stats;
    {
      py::gil_scoped_release release;
      stats = train_cdae(p, train.view, config);
    }
    return stats_dict(stats);
  }, py::arg("arrays"), py::arg("indptr"), py::arg("indices"), py::arg("config"));

  m.def("cdae_encode", [](const py::dict& arrays, py::handle indptr, py::handle indices, Activation hidden,
                          py::handle users, int num_threads) {
    CDAEParams p = cdae_params(arrays);
    auto train = csr_from(indptr, indices, p.n_items, "train");
    auto u = input_array<std::int32_t>(users, "users");
    py::array_t<float> out({static_cast<py::ssize_t>(u.size()), static_cast<py::ssize_t>(p.dim)});
    float* optr = out.mutable_data();
    {
      py::gil_scoped_release release;
      cdae_encode(p, train.view, hidden, u.data(), u.size(), optr, num_threads);
    }
    return out;
  }, py::arg("arrays"), py::arg("indptr"), py::arg("indices"), py::arg("hidden"), py::arg("users"),
     py::arg("num_threads") = 0);
}


// ---- IRGAN (advrec/irgan.hpp) -----------------------------------------------------------------------
IRGANParams irgan_params(const py::dict& d) {
  IRGANParams p;
  const auto gu = shape_2d(d, "g_users");
  const auto gi = shape_2d(d, "g_items");
  p.n_users = static_cast<std::int32_t>(gu.first);
  p.n_items = static_cast<std::int32_t>(gi.first);
  p.dim = static_cast<std::int32_t>(gu.second);
  p.g_users = mutable_data<float>(dict_get(d, "g_users"), "g_users", p.n_users, p.dim);
  p.g_items = mutable_data<float>(dict_get(d, "g_items"), "g_items", p.n_items, p.dim);
  p.g_bias = mutable_data<float>(dict_get(d, "g_bias"), "g_bias", p.n_items, -1);
  p.d_users = mutable_data<float>(dict_get(d, "d_users"), "d_users", p.n_users, p.dim);
  p.d_items = mutable_data<float>(dict_get(d, "d_items"), "d_items", p.n_items, p.dim);
  p.d_bias = mutable_data<float>(dict_get(d, "d_bias"), "d_bias", p.n_items, -1);
  return p;
}

void bind_irgan(py::module_& m) {
  py::enum_<IRGANReward>(m, "IRGANReward", py::module_local())
      .value("paper", IRGANReward::Paper)
      .value("centered", IRGANReward::Centered);
  py::class_<IRGANConfig>(m, "IRGANConfig", py::module_local())
      .def(py::init<>())
      .def_readwrite("lr_g", &IRGANConfig::lr_g)
      .def_readwrite("lr_d", &IRGANConfig::lr_d)
      .def_readwrite("reg", &IRGANConfig::reg)
      .def_readwrite("temperature", &IRGANConfig::temperature)
      .def_readwrite("sample_lambda", &IRGANConfig::sample_lambda)
      .def_readwrite("g_samples", &IRGANConfig::g_samples)
      .def_readwrite("reward", &IRGANConfig::reward)
      .def_readwrite("batch_size", &IRGANConfig::batch_size)
      .def_readwrite("num_threads", &IRGANConfig::num_threads)
      .def_readwrite("seed", &IRGANConfig::seed)
      .def_readwrite("epoch", &IRGANConfig::epoch)
      .def("validate", &IRGANConfig::validate);
  auto train = [](EpochStats (*fn)(IRGANParams&, const CsrView&, const IRGANConfig&)) {
    return [fn](const py::dict& arrays, py::handle indptr, py::handle indices, const IRGANConfig& config) {
      IRGANParams p = irgan_params(arrays);
      auto csr = csr_from(indptr, indices, p.n_items, "train");
      EpochStats stats;
      {
        py::gil_scoped_release release;
        stats = fn(p, csr.view, config);
      }
      return stats_dict(stats);
    };
  };
  m.def("train_irgan_discriminator", train(&train_irgan_discriminator), py::arg("arrays"), py::arg("indptr"),
        py::arg("indices"), py::arg("config"));
  m.def("train_irgan_generator", train(&train_irgan_generator), py::arg("arrays"), py::arg("indptr"),
        py::arg("indices"), py::arg("config"));
}


// ---- CFGAN (advrec/cfgan.hpp) -----------------------------------------------------------------------
CFGANParams cfgan_params(const CFGANShape& shape, std::int32_t n_users, const py::dict& d) {
  shape.validate();
  CFGANParams p;
  p.shape = shape;
  p.n_users = n_users;
  p.g = mutable_data<float>(dict_get(d, "generator"), "generator", shape.g_size(), -1);
  p.d = mutable_data<float>(dict_get(d, "discriminator"), "discriminator", shape.d_size(), -1);
  p.g_accum = optional_mutable<float>(dict_get(d, "generator_accum"), "generator_accum", shape.g_size(), -1);
  p.d_accum = optional_mutable<float>(dict_get(d, "discriminator_accum"), "discriminator_accum", shape.d_size(), -1);
  return p;
}

void bind_cfgan(py::module_& m) {
  py::enum_<CFGANPlayer>(m, "CFGANPlayer", py::module_local())
      .value("discriminator", CFGANPlayer::Discriminator)
      .value("generator", CFGANPlayer::Generator);
  py::class_<CFGANShape>(m, "CFGANShape", py::module_local())
      .def(py::init([](std::int32_t n_items, std::int32_t hidden, std::int32_t g_layers, std::int32_t d_layers) {
             CFGANShape s{n_items, hidden, g_layers, d_layers};
             s.validate();
             return s;
           }),
           py::arg("n_items"), py::arg("hidden"), py::arg("g_layers"), py::arg("d_layers"))
      .def_property_readonly("g_size", &CFGANShape::g_size)
      .def_property_readonly("d_size", &CFGANShape::d_size)
      .def("offsets", [](const CFGANShape& s) {
        py::dict o;
        o["g_in"] = s.g_in();
        o["g_in_bias"] = s.g_in_bias();
        o["g_hidden"] = s.g_hidden();
        o["g_hidden_bias"] = s.g_hidden_bias();
        o["g_out"] = s.g_out();
        o["g_out_bias"] = s.g_out_bias();
        o["d_in_x"] = s.d_in_x();
        o["d_in_c"] = s.d_in_c();
        o["d_in_bias"] = s.d_in_bias();
        o["d_out"] = s.d_out();
        o["d_out_bias"] = s.d_out_bias();
        return o;
      });
  py::class_<CFGANConfig>(m, "CFGANConfig", py::module_local())
      .def(py::init<>())
      .def_readwrite("lr", &CFGANConfig::lr)
      .def_readwrite("reg", &CFGANConfig::reg)
      .def_readwrite("alpha", &CFGANConfig::alpha)
      .def_readwrite("s_zr", &CFGANConfig::s_zr)
      .def_readwrite("s_pm", &CFGANConfig::s_pm)
      .def_readwrite("activation", &CFGANConfig::activation)
      .def_readwrite("optimizer", &CFGANConfig::optimizer)
      .def_readwrite("num_threads", &CFGANConfig::num_threads)
      .def_readwrite("seed", &CFGANConfig::seed)
      .def_readwrite("epoch", &CFGANConfig::epoch)
      .def("validate", &CFGANConfig::validate);
  m.def("train_cfgan", [](const CFGANShape& shape, const py::dict& arrays, py::handle indptr, py::handle indices,
                          const CFGANConfig& config, CFGANPlayer player) {
    auto csr = csr_from(indptr, indices, shape.n_items, "train");
    CFGANParams p = cfgan_params(shape, csr.view.n_rows, arrays);
    EpochStats stats;
    {
      py::gil_scoped_release release;
      stats = train_cfgan(p, csr.view, config, player);
    }
    return stats_dict(stats);
  }, py::arg("shape"), py::arg("arrays"), py::arg("indptr"), py::arg("indices"), py::arg("config"), py::arg("player"));
  m.def("cfgan_encode", [](const CFGANShape& shape, const py::dict& arrays, py::handle indptr, py::handle indices,
                           Activation activation, py::handle users, int num_threads) {
    auto csr = csr_from(indptr, indices, shape.n_items, "train");
    CFGANParams p = cfgan_params(shape, csr.view.n_rows, arrays);
    auto u = input_array<std::int32_t>(users, "users");
    py::array_t<float> out({static_cast<py::ssize_t>(u.size()), static_cast<py::ssize_t>(shape.hidden)});
    float* optr = out.mutable_data();
    {
      py::gil_scoped_release release;
      cfgan_encode(p, csr.view, activation, u.data(), u.size(), optr, num_threads);
    }
    return out;
  }, py::arg("shape"), py::arg("arrays"), py::arg("indptr"), py::arg("indices"), py::arg("activation"),
     py::arg("users"), py::arg("num_threads") = 0);
}

}  // namespace

// ---- MF-eALS (advrec/eals.hpp) --------------------------------------------------------------------
namespace {

// A 2-d float32 array from the parameter dict: its shape is read here, checked by mutable_data.
float* dict_matrix(const py::dict& d, const char* key, std::int32_t& rows, std::int32_t& cols) {
  if (!d.contains(key)) throw py::value_error(std::string("parameter dict is missing '") + key + "'");
  py::handle obj = d[key];
  if (!py::isinstance<py::array>(obj) || py::reinterpret_borrow<py::array>(obj).ndim() != 2)
    throw py::type_error(std::string(key) + " must be a 2-d numpy array");
  auto arr = py::reinterpret_borrow<py::array>(obj);
  rows = static_cast<std::int32_t>(arr.shape(0));
  cols = static_cast<std::int32_t>(arr.shape(1));
  return mutable_data<float>(obj, key, rows, cols);
}

EALSParams eals_params(const py::dict& arrays) {
  EALSParams p;
  std::int32_t du = 0, di = 0;
  p.user_factors = dict_matrix(arrays, "user_factors", p.n_users, du);
  p.item_factors = dict_matrix(arrays, "item_factors", p.n_items, di);
  if (du != di) throw py::value_error("user_factors and item_factors must have the same number of columns");
  p.dim = du;
  return p;
}

void bind_eals(py::module_& m) {
  py::class_<EALSConfig>(m, "EALSConfig", py::module_local())
      .def(py::init<>())
      .def_readwrite("reg", &EALSConfig::reg)
      .def_readwrite("weight", &EALSConfig::weight)
      .def_readwrite("c0", &EALSConfig::c0)
      .def_readwrite("alpha", &EALSConfig::alpha)
      .def_readwrite("compute_loss", &EALSConfig::compute_loss)
      .def_readwrite("num_threads", &EALSConfig::num_threads)
      .def("validate", &EALSConfig::validate);

  m.def("train_eals", [](const py::dict& arrays, py::handle indptr, py::handle indices, const EALSConfig& config) {
    EALSParams p = eals_params(arrays);
    auto train = csr_from(indptr, indices, p.n_items, "train");
    EALSStats stats;
    {
      py::gil_scoped_release release;
      stats = train_eals(p, train.view, config);
    }
    py::dict out;
    out["loss"] = stats.loss;
    out["nnz"] = stats.nnz;
    return out;
  }, py::arg("arrays"), py::arg("indptr"), py::arg("indices"), py::arg("config"));

  m.def("eals_loss", [](const py::dict& arrays, py::handle indptr, py::handle indices, const EALSConfig& config) {
    EALSParams p = eals_params(arrays);
    auto train = csr_from(indptr, indices, p.n_items, "train");
    py::gil_scoped_release release;
    return eals_loss(p, train.view, config);
  }, py::arg("arrays"), py::arg("indptr"), py::arg("indices"), py::arg("config"));
}

}  // namespace

// ---- NeuMF (advrec/neumf.hpp) -------------------------------------------------------------------
namespace {

const char* const kNeuMFTables[] = {"gmf_user", "gmf_item", "mlp_user", "mlp_item"};

// Parameters from a dict: the four embedding tables and `dense` (their sizes give the layout with
// `hidden`), optional Adam moments m_<name> / v_<name> of the same shapes and `step` (int64, (1,)).
NeuMFParams neumf_params(const py::dict& d, const std::vector<int>& hidden) {
  NeuMFParams p;
  std::int32_t rows[4], cols[4];
  float* w[4];
  for (int k = 0; k < 4; ++k) w[k] = dict_matrix(d, kNeuMFTables[k], rows[k], cols[k]);
  if (rows[0] != rows[2] || rows[1] != rows[3]) throw py::value_error("gmf and mlp tables must have the same rows");
  if (cols[0] != cols[1]) throw py::value_error("gmf_user and gmf_item must have the same number of columns");
  if (cols[2] != cols[3]) throw py::value_error("mlp_user and mlp_item must have the same number of columns");
  p.n_users = rows[0];
  p.n_items = rows[1];
  p.layout = NeuMFLayout(cols[0], cols[2], hidden);
  p.w = {w[0], w[1], w[2], w[3], nullptr};
  p.w.dense = mutable_data<float>(dict_get(d, "dense"), "dense", p.layout.size, -1);
  auto moments = [&](const char* prefix) {
    NeuMFTensors<float> t;
    float** slots[4] = {&t.gmf_user, &t.gmf_item, &t.mlp_user, &t.mlp_item};
    for (int k = 0; k < 4; ++k) {
      const std::string key = std::string(prefix) + kNeuMFTables[k];
      *slots[k] = optional_mutable<float>(dict_get(d, key.c_str()), key.c_str(), rows[k], cols[k]);
    }
    const std::string key = std::string(prefix) + "dense";
    t.dense = optional_mutable<float>(dict_get(d, key.c_str()), key.c_str(), p.layout.size, -1);
    return t;
  };
  p.m = moments("m_");
  p.v = moments("v_");
  p.step = optional_mutable<std::int64_t>(dict_get(d, "step"), "step", 1, -1);
  return p;
}

void bind_neumf(py::module_& m) {
  py::enum_<NeuMFMode>(m, "NeuMFMode", py::module_local())
      .value("gmf", NeuMFMode::GMF)
      .value("mlp", NeuMFMode::MLP)
      .value("neumf", NeuMFMode::NeuMF);
  py::enum_<NeuMFOptimizer>(m, "NeuMFOptimizer", py::module_local())
      .value("sgd", NeuMFOptimizer::SGD)
      .value("adam", NeuMFOptimizer::Adam);
  py::class_<NeuMFConfig>(m, "NeuMFConfig", py::module_local())
      .def(py::init<>())
      .def_readwrite("mode", &NeuMFConfig::mode)
      .def_readwrite("optimizer", &NeuMFConfig::optimizer)
      .def_readwrite("lr", &NeuMFConfig::lr)
      .def_readwrite("beta1", &NeuMFConfig::beta1)
      .def_readwrite("beta2", &NeuMFConfig::beta2)
      .def_readwrite("adam_eps", &NeuMFConfig::adam_eps)
      .def_readwrite("reg", &NeuMFConfig::reg)
      .def_readwrite("reg_dense", &NeuMFConfig::reg_dense)
      .def_readwrite("negatives", &NeuMFConfig::negatives)
      .def_readwrite("batch_size", &NeuMFConfig::batch_size)
      .def_readwrite("num_threads", &NeuMFConfig::num_threads)
      .def_readwrite("seed", &NeuMFConfig::seed)
      .def_readwrite("epoch", &NeuMFConfig::epoch)
      .def("validate", &NeuMFConfig::validate);

  m.def("neumf_layout", [](int gmf_dim, int mlp_dim, const std::vector<int>& hidden) {
    NeuMFLayout L(gmf_dim, mlp_dim, hidden);
    py::dict out;
    out["size"] = L.size;
    out["w_offset"] = L.w_offset;
    out["b_offset"] = L.b_offset;
    out["h_offset"] = L.h_offset;
    out["bias_offset"] = L.bias_offset;
    return out;
  }, py::arg("gmf_dim"), py::arg("mlp_dim"), py::arg("hidden"));

  m.def("train_neumf", [](const py::dict& arrays, const std::vector<int>& hidden, py::handle indptr,
                          py::handle indices, const NeuMFConfig& config) {
    NeuMFParams p = neumf_params(arrays, hidden);
    auto train = csr_from(indptr, indices, p.n_items, "train");
    NeuMFStats stats;
    {
      py::gil_scoped_release release;
      stats = train_neumf(p, train.view, config);
    }
    py::dict out;
    out["instances"] = stats.instances;
    out["loss"] = stats.loss;
    out["accuracy"] = stats.accuracy;
    return out;
  }, py::arg("arrays"), py::arg("hidden"), py::arg("indptr"), py::arg("indices"), py::arg("config"));

  m.def("neumf_score_block", [](const py::dict& arrays, const std::vector<int>& hidden, NeuMFMode mode,
                                py::handle users, py::handle items, int num_threads) {
    NeuMFParams p = neumf_params(arrays, hidden);
    auto u = input_array<std::int32_t>(users, "users");
    auto i = input_array<std::int32_t>(items, "items");
    if (u.ndim() != 1 || i.ndim() != 1) throw py::value_error("users and items must be 1-d");
    py::array_t<float> out({static_cast<py::ssize_t>(u.size()), static_cast<py::ssize_t>(i.size())});
    float* o = out.mutable_data();
    {
      py::gil_scoped_release release;
      neumf_score_block(p, mode, u.data(), u.size(), i.data(), i.size(), o, num_threads);
    }
    return out;
  }, py::arg("arrays"), py::arg("hidden"), py::arg("mode"), py::arg("users"), py::arg("items"),
     py::arg("num_threads") = 0);

  m.def("neumf_score_pairs", [](const py::dict& arrays, const std::vector<int>& hidden, NeuMFMode mode,
                                py::handle users, py::handle items, int num_threads) {
    NeuMFParams p = neumf_params(arrays, hidden);
    auto u = input_array<std::int32_t>(users, "users");
    auto i = input_array<std::int32_t>(items, "items");
    if (u.ndim() != 1 || i.ndim() != 1 || u.size() != i.size()) throw py::value_error("users and items must be 1-d of the same length");
    py::array_t<float> out({static_cast<py::ssize_t>(u.size())});
    float* o = out.mutable_data();
    {
      py::gil_scoped_release release;
      neumf_score_pairs(p, mode, u.data(), i.data(), u.size(), o, num_threads);
    }
    return out;
  }, py::arg("arrays"), py::arg("hidden"), py::arg("mode"), py::arg("users"), py::arg("items"),
     py::arg("num_threads") = 0);

  m.def("neumf_fuse", [](const py::dict& arrays, const std::vector<int>& hidden, float alpha) {
    NeuMFParams p = neumf_params(arrays, hidden);
    neumf_fuse(p.layout, p.w.dense, alpha);
  }, py::arg("arrays"), py::arg("hidden"), py::arg("alpha"));
}

}  // namespace

// ---- evaluation from given scores (models that are not dot products) ------------------------------
namespace {

void bind_scored_evaluation(py::module_& m) {
  m.def("evaluate_full_scores", [](py::handle scores, py::handle tr_indptr, py::handle tr_indices,
                                   py::handle te_indptr, py::handle te_indices, py::handle users,
                                   const std::vector<std::int32_t>& ks, const std::vector<std::string>& metrics,
                                   int num_threads) {
    auto s = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(scores);
    if (!s || s.ndim() != 2) throw py::value_error("scores must be a 2-d float array (users x items)");
    const auto n_items = static_cast<std::int32_t>(s.shape(1));
    auto train = csr_from(tr_indptr, tr_indices, n_items, "train");
    auto test = csr_from(te_indptr, te_indices, n_items, "test");
    train.view.validate("train");
    test.view.validate("test");
    auto us = user_list(users);
    if (us.size() != s.shape(0)) throw py::value_error("users must have one entry per row of scores");
    for (py::ssize_t k = 0; k < us.size(); ++k)
      if (us.data()[k] < 0 || us.data()[k] >= train.view.n_rows) throw py::value_error("users holds an id outside the training data");
    MetricSpec spec = MetricSpec::from_names(ks, metrics);
    py::array_t<double> out({static_cast<py::ssize_t>(us.size()), static_cast<py::ssize_t>(spec.columns())});
    {
      py::gil_scoped_release release;
      evaluate_full_scores(s.data(), us.size(), n_items, train.view, test.view, us.data(), spec, out.mutable_data(),
                           num_threads);
    }
    return out;
  }, py::arg("scores"), py::arg("train_indptr"), py::arg("train_indices"), py::arg("test_indptr"),
     py::arg("test_indices"), py::arg("users"), py::arg("ks"), py::arg("metrics"), py::arg("num_threads") = 0);

  m.def("evaluate_sampled_scores", [](py::handle negative_scores, py::handle test_scores, py::handle test_offsets,
                                      const std::vector<std::int32_t>& ks, const std::vector<std::string>& metrics,
                                      int num_threads) {
    auto n = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(negative_scores);
    auto t = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(test_scores);
    auto o = input_array<std::int64_t>(test_offsets, "test_offsets");
    if (!n || n.ndim() != 2) throw py::value_error("negative_scores must be 2-d (users x negatives)");
    if (!t || t.ndim() != 1) throw py::value_error("test_scores must be 1-d");
    if (o.ndim() != 1 || o.size() != n.shape(0) + 1 || o.data()[0] != 0 || o.data()[o.size() - 1] != t.size())
      throw py::value_error("test_offsets must have one entry per user plus one, from 0 to len(test_scores)");
    for (py::ssize_t k = 1; k < o.size(); ++k)
      if (o.data()[k] < o.data()[k - 1]) throw py::value_error("test_offsets must be non-decreasing");
    MetricSpec spec = MetricSpec::from_names(ks, metrics);
    py::array_t<double> out({static_cast<py::ssize_t>(n.shape(0)), static_cast<py::ssize_t>(spec.columns())});
    {
      py::gil_scoped_release release;
      evaluate_sampled_scores(n.data(), n.shape(0), static_cast<std::int32_t>(n.shape(1)), t.data(), o.data(), spec,
                              out.mutable_data(), num_threads);
    }
    return out;
  }, py::arg("negative_scores"), py::arg("test_scores"), py::arg("test_offsets"), py::arg("ks"), py::arg("metrics"),
     py::arg("num_threads") = 0);
}

}  // namespace

PYBIND11_MODULE(ADVREC_MODULE_NAME, m) {
  m.doc() = "advrec C++ engine (internal; use the advrec package)";
  m.attr("variant") = ADVREC_VARIANT;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const NumericalError& e) {
      PyErr_SetString(PyExc_FloatingPointError, e.what());
    } catch (const InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  py::module_ testing = m.def_submodule("_testing", "entry points used only by the tests");

  m.def("cpu_features", &cpu_features, "ISA extensions this CPU supports (x86-64 only)");
  m.def("max_threads", &openmp_threads, "Threads used when num_threads=0 (1 without OpenMP)");
  m.def("validate_csr", [](py::handle indptr, py::handle indices, std::int32_t n_cols, const std::string& name) {
    auto c = csr_from(indptr, indices, n_cols, name.c_str());
    c.view.validate(name.c_str());
  }, py::arg("indptr"), py::arg("indices"), py::arg("n_cols"), py::arg("name") = "interactions");

  py::enum_<Optimizer>(m, "Optimizer", py::module_local()).value("sgd", Optimizer::SGD).value("adagrad", Optimizer::Adagrad);
  bind_sampling(m);
  bind_mf(m, testing);
  bind_vbpr(m, testing);
  bind_sasrec(m);
  bind_attacks(m);
  bind_evaluation(m);
  bind_scored_evaluation(m);
  bind_eals(m);
  bind_neumf(m);
  bind_layers(m);
  bind_cdae(m);
  bind_irgan(m);
  bind_cfgan(m);
}
