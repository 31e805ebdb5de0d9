// What a dashboard URL (or form) asks for: the filters of the resource and job lists, as
// the fields of a query string, and back. A field may repeat or hold comma-separated
// values (kind=a,b&kind=c), as the `delta` command's options do.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <delta/admin.hpp>

#include "ui/html.hpp"

namespace delta_ui {

// The fields of a query string or a form body.
using Fields = std::multimap<std::string, std::string>;

// A request the dashboard cannot answer as asked (an unknown state, a limit out of range):
// the page is 400 and says what.
class BadRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where a list's page starts, how long it is, which way it runs.
struct PageQuery {
  std::string cursor;
  int limit = 50;
  bool oldest_first = false;

  delta::Page page() const;
  // limit and order (not the cursor) added to `params`.
  html::Params with_page(html::Params params) const;
};

// The resource list's filter and page, as given.
struct ResourceQuery : PageQuery {
  std::vector<std::string> kinds, namespaces, states, tags_any, tags_all;
  std::string id_prefix;

  bool filtered() const;
  // The filter (states parsed); throws BadRequest for an unknown state. The names are
  // checked by delta::Admin (ValidationError).
  delta::ResourceFilter filter() const;
  // The filter's fields (no page fields): for links and the bulk forms.
  html::Params filter_params() const;
  // The filter's and the page's fields but the cursor.
  html::Params params() const { return with_page(filter_params()); }
};

struct JobQuery : PageQuery {
  std::vector<std::string> queues, kinds, states;

  delta::JobFilter filter() const;
  html::Params filter_params() const;
  html::Params params() const { return with_page(filter_params()); }
};

// Parse the fields of the resource / job list; throws BadRequest naming the field for a
// limit that is not 1 to 1000, an order other than newest or oldest, or a field the list
// does not have (`ignored` names those that belong to the page, not the list: "done").
ResourceQuery parse_resource_query(const Fields& fields, int default_limit,
                                   const std::vector<std::string>& ignored = {});
JobQuery parse_job_query(const Fields& fields, int default_limit,
                         const std::vector<std::string>& ignored = {});

// The one value of `name`: empty when absent; BadRequest when given twice.
std::string single(const Fields& fields, const std::string& name);
// A positive whole number (a job id) in field `name`; BadRequest otherwise.
std::int64_t positive_id(const Fields& fields, const std::string& name);

}  // namespace delta_ui
