// Small neural-network pieces shared by the auto-encoder and GAN recommenders (CDAE, CFGAN):
// element-wise activations with their derivatives, and the "sparse input row sum" that a layer
// fed a 0/1 purchase vector reduces to. Templated on the scalar so that tests check every gradient
// by finite differences in double precision while training runs in float. Includes no model header.
#pragma once

#include "advrec/common.hpp"

#include <cmath>
#include <cstdint>
#include <string>

namespace advrec {

enum class Activation : int { Identity = 0, Sigmoid = 1, Tanh = 2, ReLU = 3 };

inline const char* activation_name(Activation a) {
  switch (a) {
    case Activation::Identity: return "identity";
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Tanh: return "tanh";
    case Activation::ReLU: return "relu";
  }
  return "?";
}

inline bool valid_activation(Activation a) {
  const int v = static_cast<int>(a);
  return v >= 0 && v <= 3;
}

namespace layers {

template <class T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// ln(1 + e^x) without overflow.
template <class T>
inline T softplus(T x) {
  return x > T(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

template <class T>
inline T activate(Activation a, T x) {
  switch (a) {
    case Activation::Sigmoid: return sigmoid(x);
    case Activation::Tanh: return std::tanh(x);
    case Activation::ReLU: return x > T(0) ? x : T(0);
    case Activation::Identity: break;
  }
  return x;
}

// Derivative expressed through the activation's OUTPUT y = act(x) (all four allow it), so the
// backward pass needs only the stored outputs. ReLU at 0 takes derivative 0.
template <class T>
inline T activation_grad_from_output(Activation a, T y) {
  switch (a) {
    case Activation::Sigmoid: return y * (T(1) - y);
    case Activation::Tanh: return T(1) - y * y;
    case Activation::ReLU: return y > T(0) ? T(1) : T(0);
    case Activation::Identity: break;
  }
  return T(1);
}

// In place: x[k] = act(x[k]).
template <class T>
inline void activate_inplace(Activation a, T* x, int n) {
  if (a == Activation::Identity) return;
  for (int k = 0; k < n; ++k) x[k] = activate(a, x[k]);
}

// Back through the activation: g[k] *= act'(x_k), with y = act(x) the stored outputs.
template <class T>
inline void backprop_activation(Activation a, const T* y, T* g, int n) {
  if (a == Activation::Identity) return;
  for (int k = 0; k < n; ++k) g[k] *= activation_grad_from_output(a, y[k]);
}

// out[0:d] += scale * sum_j W[rows[j], 0:d]: a linear layer applied to a vector that is `scale` at
// the entries `rows` and zero elsewhere (a possibly corrupted 0/1 purchase vector).
template <class T>
inline void add_sparse_rows(T* out, const T* W, int d, const std::int32_t* rows, Index n_rows, T scale) {
  for (Index j = 0; j < n_rows; ++j) {
    const T* w = W + static_cast<Index>(rows[j]) * d;
    for (int k = 0; k < d; ++k) out[k] += scale * w[k];
  }
}

}  // namespace layers
}  // namespace advrec
