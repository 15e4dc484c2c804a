// A fixed-size array of trivially copyable T on 2 MiB-aligned memory advised for transparent
// huge pages: the hash tables are probed at random, and with 4 KiB pages nearly every probe of
// a multi-megabyte table would also miss the TLB.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>

namespace qkv::bpe {

template <class T>
class HugeArray {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  void assign(size_t n, const T& value) {
    allocate(n);
    std::uninitialized_fill_n(data_.get(), n, value);
  }
  // n items left unset: for a table about to be copied in whole (from an image).
  void allocate(size_t n) {
    constexpr size_t kHuge = size_t{2} << 20;
    const size_t bytes = std::max<size_t>((n * sizeof(T) + kHuge - 1) / kHuge * kHuge, kHuge);
    T* p = static_cast<T*>(std::aligned_alloc(kHuge, bytes));
    if (!p) throw std::bad_alloc();
    madvise(p, bytes, MADV_HUGEPAGE);  // a hint: failure only costs speed
    data_.reset(p);
    size_ = n;
  }
  T* data() noexcept { return data_.get(); }
  const T* data() const noexcept { return data_.get(); }
  T& operator[](size_t i) noexcept { return data_[i]; }
  const T& operator[](size_t i) const noexcept { return data_[i]; }
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

 private:
  struct Free {
    void operator()(T* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<T[], Free> data_;
  size_t size_ = 0;
};

}  // namespace qkv::bpe
