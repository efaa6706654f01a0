# Reference values for qbank.irt.estimate_theta and qbank.cat.next_item, made with R's catR
# (Magis & Barrada 2017). Run from the repository root:
#
#     Rscript tests/cat/make_catr_reference.R > tests/cat/catr_reference.json
#
# catR's default metric is D = 1; QBank's is D = 1.7, passed explicitly everywhere below, and
# every integral uses QBank's 61-point grid on [-4, 4] (parInt = c(-4, 4, 61)).
suppressPackageStartupMessages(library(catR))

D <- 1.7
PAR_INT <- c(-4, 4, 61)

# A small 3PL pool (a, b, c, d = 1), spread over difficulty and discrimination.
pool <- cbind(
  a = c(1.2, 0.8, 1.9, 1.0, 1.5, 0.6, 2.1, 1.1, 0.9, 1.7, 1.3, 0.7, 1.8, 1.0, 1.4, 2.4),
  b = c(-0.5, 0.3, 1.1, 0.0, -1.4, 2.0, 0.6, -2.2, 1.6, -0.2, 0.9, -1.0, -0.7, 2.6, 0.2, -1.8),
  c = c(0.2, 0.1, 0.25, 0.0, 0.15, 0.2, 0.1, 0.0, 0.3, 0.2, 0.05, 0.25, 0.1, 0.2, 0.0, 0.15),
  d = 1
)

num <- function(x) {
  if (length(x) == 1 && is.infinite(x)) return(if (x > 0) '"Infinity"' else '"-Infinity"')
  if (length(x) == 1) return(formatC(x, digits = 12, format = "g"))
  paste0("[", paste(sapply(x, num), collapse = ", "), "]")
}
ints <- function(x) paste0("[", paste(as.integer(x), collapse = ", "), "]")
obj <- function(...) {
  fields <- list(...)
  paste0("{", paste(sprintf('"%s": %s', names(fields), unlist(fields)), collapse = ", "), "}")
}

# --- ability estimates and their standard errors (thetaEst + semTheta) ----------------------
patterns <- list(
  list(name = "mixed", items = 1:6, x = c(1, 0, 1, 1, 0, 0)),
  list(name = "mixed_long", items = 1:12, x = c(1, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1)),
  list(name = "all_right", items = 1:5, x = rep(1, 5)),
  list(name = "all_wrong", items = 1:5, x = rep(0, 5)),
  list(name = "one_right", items = 3, x = 1),
  list(name = "one_wrong", items = 3, x = 0),
  list(name = "two_pl_mixed", items = c(4, 8, 15), x = c(1, 0, 1))
)
methods <- c(ml = "ML", map = "BM", eap = "EAP", wle = "WL")
estimates <- c()
for (p in patterns) {
  it <- pool[p$items, , drop = FALSE]
  for (m in names(methods)) {
    th <- thetaEst(it, p$x, D = D, method = methods[[m]], priorPar = c(0, 1),
                   range = c(-4, 4), parInt = PAR_INT)
    se <- semTheta(th, it, x = p$x, D = D, method = methods[[m]], priorPar = c(0, 1),
                   parInt = PAR_INT, range = c(-4, 4))
    estimates <- c(estimates, obj(pattern = sprintf('"%s"', p$name), method = sprintf('"%s"', m),
                                  items = ints(p$items - 1), responses = ints(p$x),
                                  theta_hat = num(th), se = num(se)))
  }
}
# A prior other than N(0, 1), for MAP and EAP.
for (m in c("map", "eap")) {
  p <- patterns[[1]]
  it <- pool[p$items, , drop = FALSE]
  th <- thetaEst(it, p$x, D = D, method = methods[[m]], priorPar = c(0.5, 1.5), parInt = PAR_INT)
  se <- semTheta(th, it, x = p$x, D = D, method = methods[[m]], priorPar = c(0.5, 1.5),
                 parInt = PAR_INT)
  estimates <- c(estimates, obj(pattern = '"mixed_prior"', method = sprintf('"%s"', m),
                                items = ints(p$items - 1), responses = ints(p$x),
                                prior_mean = num(0.5), prior_sd = num(1.5),
                                theta_hat = num(th), se = num(se)))
}

# --- next-item criteria (nextItem, and the per-item criterion values) -----------------------
situations <- list(
  list(name = "start", out = integer(0), x = integer(0), theta = 0),
  list(name = "mixed", out = c(1, 4, 10), x = c(1, 0, 1), theta = NA),
  list(name = "all_right", out = c(1, 4, 10, 15), x = c(1, 1, 1, 1), theta = NA),
  list(name = "all_wrong", out = c(1, 4, 10, 15), x = c(0, 0, 0, 0), theta = NA),
  list(name = "one_item", out = c(7), x = c(1), theta = NA)
)
criteria <- c(mfi = "MFI", mlwi = "MLWI", mpwi = "MPWI", mepv = "MEPV", kl = "KL", klp = "KLP")
selections <- c()
for (s in situations) {
  out <- s$out
  given <- pool[out, , drop = FALSE]
  theta <- s$theta
  if (is.na(theta)) theta <- thetaEst(given, s$x, D = D, method = "BM", parInt = PAR_INT)
  outArg <- if (length(out)) out else NULL
  xArg <- if (length(out)) s$x else NULL
  for (r in names(criteria)) {
    chosen <- nextItem(pool, theta = theta, out = outArg, x = xArg, criterion = criteria[[r]],
                       method = "BM", D = D, parInt = PAR_INT)$item
    values <- sapply(seq_len(nrow(pool)), function(i) {
      if (i %in% out) return(NA)
      switch(r,
        mfi = Ii(theta, pool[i, , drop = FALSE], D = D)$Ii,
        mlwi = MWI(pool, i, xArg, it.given = given, type = "MLWI", lower = -4, upper = 4,
                   nqp = 61, D = D),
        mpwi = MWI(pool, i, xArg, it.given = given, type = "MPWI", lower = -4, upper = 4,
                   nqp = 61, D = D),
        mepv = EPV(pool, i, xArg, theta, it.given = given, D = D, parInt = PAR_INT),
        kl = KL(pool, i, xArg, it.given = given, theta = theta, type = "KL", lower = -4,
                upper = 4, nqp = 61, D = D),
        klp = KL(pool, i, xArg, it.given = given, theta = theta, type = "KLP", lower = -4,
                 upper = 4, nqp = 61, D = D))
    })
    values[is.na(values)] <- 0
    selections <- c(selections, obj(situation = sprintf('"%s"', s$name),
                                    rule = sprintf('"%s"', r), administered = ints(out - 1),
                                    responses = ints(s$x), theta_hat = num(theta),
                                    item = chosen - 1, criterion = num(values)))
  }
  # Randomesque (Kingsbury & Zara 1989): the candidate set is the union of its random picks.
  picks <- sapply(1:400, function(seed) {
    nextItem(pool, theta = theta, out = outArg, x = xArg, criterion = "MFI", D = D,
             randomesque = 3, random.seed = seed)$item
  })
  selections <- c(selections, obj(situation = sprintf('"%s"', s$name), rule = '"randomesque"',
                                  administered = ints(out - 1), responses = ints(s$x),
                                  theta_hat = num(theta), randomesque = 3,
                                  candidates = ints(sort(unique(picks)) - 1)))
  # Progressive (Revuelta & Ponsoda 1998, catR's "length" rule): at the last position of a
  # test of thr items the random part has weight 0, so the choice is deterministic (not at
  # the first item, where catR's weight is 0 whatever thr).
  if (length(out) == 0) next
  thr <- length(out) + 1
  chosen <- nextItem(pool, theta = theta, out = outArg, x = xArg, criterion = "progressive",
                     D = D, rule = "length", thr = thr, AP = 1, random.seed = 1)$item
  selections <- c(selections, obj(situation = sprintf('"%s"', s$name), rule = '"progressive"',
                                  administered = ints(out - 1), responses = ints(s$x),
                                  theta_hat = num(theta), test_len = thr, item = chosen - 1))
}

# --- a-stratified with b-blocking (Chang, Qian & Ying 2001) ---------------------------------
# Strata made here from the paper's description: sort by b, cut into blocks of K items, and
# within each block give the lowest a to stratum 1, ..., the highest to stratum K. Inside the
# current stratum the item whose b is closest to theta is taken: catR's "bOpt" rule with every
# item outside the stratum left out.
K <- 4
by_b <- order(pool[, "b"])
strata <- integer(nrow(pool))
for (start in seq(1, nrow(pool), by = K)) {
  block <- by_b[start:min(start + K - 1, nrow(pool))]
  strata[block[order(pool[block, "a"])]] <- seq_along(block)
}
test_len <- 8
astrat <- c()
for (s in situations) {
  out <- s$out
  given <- pool[out, , drop = FALSE]
  theta <- s$theta
  if (is.na(theta)) theta <- thetaEst(given, s$x, D = D, method = "BM", parInt = PAR_INT)
  stratum <- min(floor(length(out) * K / test_len), K - 1) + 1
  excluded <- union(out, which(strata != stratum))
  chosen <- nextItem(pool, theta = theta, out = excluded, criterion = "bOpt", D = D)$item
  astrat <- c(astrat, obj(situation = sprintf('"%s"', s$name), administered = ints(out - 1),
                          theta_hat = num(theta), stratum = stratum - 1, item = chosen - 1))
}

cat("{\n")
cat(sprintf('"generator": "%s",\n', "tests/cat/make_catr_reference.R"))
cat(sprintf('"catR_version": "%s",\n', as.character(packageVersion("catR"))))
cat(sprintf('"R_version": "%s",\n', paste(R.version$major, R.version$minor, sep = ".")))
cat(sprintf('"D": %s,\n"grid": [-4, 4, 61],\n', num(D)))
cat(sprintf('"pool": {"a": %s, "b": %s, "c": %s},\n', num(pool[, "a"]), num(pool[, "b"]),
            num(pool[, "c"])))
cat('"estimates": [\n', paste(estimates, collapse = ",\n"), "\n],\n")
cat('"selections": [\n', paste(selections, collapse = ",\n"), "\n],\n")
cat(sprintf('"astrat": {"n_strata": %d, "test_len": %d, "strata": %s, "cases": [\n', K, test_len,
            ints(strata - 1)))
cat(paste(astrat, collapse = ",\n"), "\n]}\n}\n")
