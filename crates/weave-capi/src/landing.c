/* The landing pad that pthread_exit ends a C thread with (see the module
 * doc of src/thread.rs). C, because setjmp cannot be called from Rust:
 * it returns twice, which Rust's code generation does not allow for.
 *
 * Owns the jump buffer and nothing else; it knows no weave structure. */
#include <setjmp.h>
#include <stddef.h>

struct weave_landing {
    jmp_buf env;
    void *value;
};

/* Calls start(arg) with a landing pad set; hands the pad to
 * publish(ctx, pad) first (the Rust side keeps it with the thread's
 * registry entry). Returns start's value, or the value given to
 * weave__land. */
void *weave__run_landing(void *(*start)(void *), void *arg,
                         void (*publish)(void *, void *), void *ctx) {
    struct weave_landing landing;
    landing.value = NULL;
    if (setjmp(landing.env) == 0) {
        publish(ctx, &landing);
        return start(arg);
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
    longjmp(landing->env, 1);
}
