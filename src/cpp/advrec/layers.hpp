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

// A stack of dense layers of width H after a first (caller-computed) layer: h holds L rows of H;
// on entry h[0] is the first layer's pre-activation. Layer l >= 1 computes
//   h[l] = act(h[l-1] W_l + b_l),  W_l = W + (l-1) H H (row-major, [in][out]), b_l = b + (l-1) H.
template <class T>
inline void mlp_forward(const T* W, const T* b, int L, int H, Activation act, T* h) {
  activate_inplace(act, h, H);
  for (int l = 1; l < L; ++l) {
    const T* Wl = W + static_cast<Index>(l - 1) * H * H;
    const T* x = h + static_cast<Index>(l - 1) * H;
    T* y = h + static_cast<Index>(l) * H;
    for (int o = 0; o < H; ++o) y[o] = b[static_cast<Index>(l - 1) * H + o];
    for (int i = 0; i < H; ++i) {
      const T xi = x[i];
      const T* w = Wl + static_cast<Index>(i) * H;
      for (int o = 0; o < H; ++o) y[o] += xi * w[o];
    }
    activate_inplace(act, y, H);
  }
}

// Backward through mlp_forward. On entry g (H) is d loss / d h[L-1]; on exit it is d loss / d (the
// first layer's pre-activation). gW, gb (same layout as W, b) receive the layers' gradients
// (overwritten); `scratch` holds H values.
template <class T>
inline void mlp_backward(const T* W, int L, int H, Activation act, const T* h, T* g, T* gW, T* gb, T* scratch) {
  for (int l = L - 1; l >= 1; --l) {
    const T* y = h + static_cast<Index>(l) * H;
    const T* x = h + static_cast<Index>(l - 1) * H;
    backprop_activation(act, y, g, H);  // g = d loss / d pre-activation of layer l
    const T* Wl = W + static_cast<Index>(l - 1) * H * H;
    T* gWl = gW + static_cast<Index>(l - 1) * H * H;
    for (int o = 0; o < H; ++o) gb[static_cast<Index>(l - 1) * H + o] = g[o];
    for (int i = 0; i < H; ++i) {
      const T* w = Wl + static_cast<Index>(i) * H;
      T* gw = gWl + static_cast<Index>(i) * H;
      T acc = T(0);
      for (int o = 0; o < H; ++o) {
        gw[o] = x[i] * g[o];
        acc += w[o] * g[o];
      }
      scratch[i] = acc;
    }
    for (int i = 0; i < H; ++i) g[i] = scratch[i];
  }
  backprop_activation(act, h, g, H);
}

}  // namespace layers
}  // namespace advrec
