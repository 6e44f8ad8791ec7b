/* The layout half of weave_sigsetjmp_prepare and weave_siglongjmp (see
 * src/signal.rs): where weave's words go in glibc's sigjmp_buf, and the
 * jump itself. C, because the jump buffer's layout is the C library's
 * and the jump leaves the caller's frames.
 *
 * The header's sigsetjmp(env, savemask) is
 *     (weave_sigsetjmp_prepare(env, savemask), __sigsetjmp(env, 0))
 * so that the C library's __sigsetjmp, which returns twice, is called in
 * the program's own frame; with savemask 0 it saves no mask and only sets
 * __mask_was_saved to 0, leaving the __saved_mask words (128 bytes, of
 * which the kernel's mask would use 8) that weave wrote before it. The
 * jump is the C library's, which then finds no mask to restore.
 *
 * Owns that layout; knows no weave structure. */
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

struct jump_words {
    uint64_t mask, mark, saved, depth;
};

_Static_assert(sizeof(((struct __jmp_buf_tag *)0)->__saved_mask) >= sizeof(struct jump_words),
               "sigjmp_buf's saved mask holds weave's words");

/* Where weave's words are in `env`; with `reading`, null when glibc's
 * own sigsetjmp saved a mask there (a buffer set without weave's
 * header). */
struct jump_words *weave__jump_words(sigjmp_buf env, int reading) {
    if (reading && env[0].__mask_was_saved) return NULL;
    return (struct jump_words *)&env[0].__saved_mask;
}

/* The jump, as the C library makes it. */
void weave__jump(sigjmp_buf env, int val) {
    siglongjmp(env, val);
}
