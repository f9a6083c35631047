/*
 * no_symbol.c - a valid shared object that exports no `netlabd_handler`,
 * as an ordinary library handed to netlabd by mistake would.
 */
int no_symbol_answer(void);

int
no_symbol_answer(void)
{
    return 42;
}
