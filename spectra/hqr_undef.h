/* Ends one instantiation of hqr_impl.h (included by hqr.c after each). */
#undef REAL
#undef SFX
#undef VEC
#undef VLANES
#undef VLOAD
#undef VSTORE
#undef VFMA
#undef VFNMA
#undef VSET1
#undef VZERO
#undef VADD
#undef VMUL
#undef VHSUM
#undef HLOAD4
