/* The landing pad that pthread_exit ends a C thread with (see the module
 * doc of src/thread.rs). C, because setjmp cannot be called from Rust:
 * it returns twice, which Rust's code generation does not allow for.
 *
 * Owns the jump buffer and nothing else; it knows no weave structure. */
#include <setjmp.h>
#include <stddef.h>

/* The jump buffer. With GCC or Clang on x86_64, the compiler's own
 * __builtin_setjmp: it saves the frame and stack pointers and the resume
 * address (the compiler saves every callee-saved register in this
 * function's frame, which the return after the jump restores), ~5
 * instructions, where glibc's _setjmp saves and mangles eight registers
 * and asks __sigjmp_save about the signal mask (~50 a thread). Its
 * longjmp must come from another function (weave__land) and always
 * "returns" 1. Elsewhere, setjmp. */
#if defined(__GNUC__) && defined(__x86_64__)
typedef void *landing_env[5];
#define LANDING_SET(env) __builtin_setjmp(env)
#define LANDING_JUMP(env) __builtin_longjmp(env, 1)
#else
typedef jmp_buf landing_env;
#define LANDING_SET(env) setjmp(env)
#define LANDING_JUMP(env) longjmp(env, 1)
#endif

struct weave_landing {
    landing_env env;
    void *value;
};

/* Calls start(arg) with a landing pad set; hands the pad to
 * publish(ctx, pad) first (the Rust side keeps it with the thread's
 * registry entry), and calls ended() when start returns, while the pad is
 * still live (an asynchronous cancellation may jump to it until then).
 * Returns start's value, or the value given to weave__land. */
void *weave__run_landing(void *(*start)(void *), void *arg,
                         void (*publish)(void *, void *), void *ctx,
                         void (*ended)(void)) {
    struct weave_landing landing;
    landing.value = NULL;
    if (LANDING_SET(landing.env) == 0) {
        publish(ctx, &landing);
        void *ret = start(arg);
        ended();
        return ret;
    }
    /* Back from weave__land: `landing` is in memory (its address
     * escaped), so the value stored there is read back here. */
    return *(void *volatile *)&landing.value;
}

/* Leaves the start routine of the pad's thread, abandoning the frames in
 * between without running anything in them. */
void weave__land(void *pad, void *value) {
    struct weave_landing *landing = pad;
    landing->value = value;
    LANDING_JUMP(landing->env);
}
