/* libchain_base.so: the last definition of hcs_chain in a dlsym(RTLD_NEXT) chain. */
int hcs_chain(void);
int hcs_chain(void) { return 41; }
