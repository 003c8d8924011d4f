// Clang thread-safety annotations (-Wthread-safety), as macros that vanish elsewhere.
//
// Put them on data (GUARDED_BY), on functions (REQUIRES, ACQUIRE, RELEASE, ...) and on
// capability types (CAPABILITY, SCOPED_CAPABILITY). The clang build in scripts/test.sh
// compiles everything with -Wthread-safety -Werror, so a caller that touches guarded data
// without the latch fails to build. GCC ignores them.
#pragma once

#if defined(__clang__)
#define RINGDB_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define RINGDB_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) RINGDB_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY RINGDB_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) RINGDB_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) RINGDB_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) RINGDB_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) RINGDB_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) RINGDB_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) RINGDB_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) RINGDB_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) RINGDB_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) RINGDB_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) RINGDB_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) RINGDB_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) RINGDB_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) RINGDB_THREAD_ANNOTATION(try_acquire_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) RINGDB_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) RINGDB_THREAD_ANNOTATION(assert_capability(x))
#define ASSERT_SHARED_CAPABILITY(x) RINGDB_THREAD_ANNOTATION(assert_shared_capability(x))
#define RETURN_CAPABILITY(x) RINGDB_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS RINGDB_THREAD_ANNOTATION(no_thread_safety_analysis)
