"""What the two front doors (pages in schulden.web, JSON in schulden.api) share: the request's database session, the
error answers (problem+json for the API, a Dutch page elsewhere) and the app's runtime with its ports (`ports`)."""
