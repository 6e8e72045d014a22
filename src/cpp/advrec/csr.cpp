#include "advrec/csr.hpp"

#include <numeric>
#include <string>

namespace advrec {

void CsrView::validate(const char* name) const {
  const std::string n(name);
  require(n_rows >= 0 && n_cols >= 0, n + ": negative shape");
  require(indptr != nullptr, n + ": missing indptr");
  require(indptr[0] == 0, n + ": indptr[0] must be 0");
  // The messages are built only on failure: building them per entry cost more than the check.
  for (std::int32_t r = 0; r < n_rows; ++r) {
    if (indptr[r + 1] < indptr[r]) require(false, n + ": indptr must be non-decreasing (row " + std::to_string(r) + ")");
    const std::int32_t* row = indices + indptr[r];
    const Index len = indptr[r + 1] - indptr[r];
    for (Index k = 0; k < len; ++k) {
      if (row[k] < 0 || row[k] >= n_cols) {
        require(false, n + ": item id " + std::to_string(row[k]) + " of row " + std::to_string(r) + " is outside [0, " +
                           std::to_string(n_cols) + ")");
      }
      if (k > 0 && row[k] <= row[k - 1]) require(false, n + ": items of row " + std::to_string(r) + " must be sorted and unique");
    }
  }
}

Csr Csr::from_pairs(std::int32_t n_rows, std::int32_t n_cols, const std::vector<std::int32_t>& rows,
                    const std::vector<std::int32_t>& cols) {
  require(rows.size() == cols.size(), "from_pairs: rows and cols differ in length");
  Csr out;
  out.n_rows = n_rows;
  out.n_cols = n_cols;
  std::vector<std::vector<std::int32_t>> buckets(static_cast<size_t>(n_rows));
  for (size_t k = 0; k < rows.size(); ++k) {
    require(rows[k] >= 0 && rows[k] < n_rows, "from_pairs: row id out of range");
    require(cols[k] >= 0 && cols[k] < n_cols, "from_pairs: column id out of range");
    buckets[static_cast<size_t>(rows[k])].push_back(cols[k]);
  }
  out.indptr.assign(static_cast<size_t>(n_rows) + 1, 0);
  for (std::int32_t r = 0; r < n_rows; ++r) {
    auto& b = buckets[static_cast<size_t>(r)];
    std::sort(b.begin(), b.end());
    b.erase(std::unique(b.begin(), b.end()), b.end());
    out.indices.insert(out.indices.end(), b.begin(), b.end());
    out.indptr[static_cast<size_t>(r) + 1] = static_cast<std::int64_t>(out.indices.size());
  }
  return out;
}

std::vector<std::int32_t> entry_rows(const CsrView& csr) {
  std::vector<std::int32_t> rows(static_cast<size_t>(csr.nnz()));
  for (std::int32_t r = 0; r < csr.n_rows; ++r) {
    std::fill(rows.begin() + csr.indptr[r], rows.begin() + csr.indptr[r + 1], r);
  }
  return rows;
}

std::vector<UserItem> interaction_pairs(const CsrView& csr) {
  std::vector<UserItem> pairs(static_cast<size_t>(csr.nnz()));
  for (std::int32_t r = 0; r < csr.n_rows; ++r) {
    for (Index e = csr.row_begin(r); e < csr.row_end(r); ++e) pairs[static_cast<size_t>(e)] = {r, csr.indices[e]};
  }
  return pairs;
}

}  // namespace advrec
