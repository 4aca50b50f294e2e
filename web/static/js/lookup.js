/*
 * Search-as-you-type for fields that refer to a register entry (qmsflow).
 *
 * Every input[data-register] inside a form[data-register-lookup] gets a <datalist> of the
 * entries matching what was typed (key, with the entry's title beside it), asked from the
 * register's lookup address (the form's data-register-lookup with REGISTER replaced by the
 * input's data-register). The server lists only entries of a register the user may read.
 * Without this script the input is a plain text box: type the key, the server checks it.
 *
 * No dependencies and no build step.
 */
(function () {
  'use strict';

  var WAIT_MS = 200;

  function attach(form, input, index) {
    var list = document.createElement('datalist');
    list.id = 'register-lookup-' + index;
    input.setAttribute('list', list.id);
    input.parentNode.insertBefore(list, input.nextSibling);
    var address = form.getAttribute('data-register-lookup')
      .replace('REGISTER', encodeURIComponent(input.getAttribute('data-register')));
    var timer = null;
    var asked = 0;

    function fill(entries) {
      while (list.firstChild) {
        list.removeChild(list.firstChild);
      }
      entries.forEach(function (entry) {
        var option = document.createElement('option');
        option.value = entry.key;
        option.label = entry.title ? entry.key + ' · ' + entry.title : entry.key;
        option.textContent = option.label;
        list.appendChild(option);
      });
    }

    function ask() {
      var query = input.value.trim();
      if (!query) {
        fill([]);
        return;
      }
      var mine = ++asked;
      var url = address + (address.indexOf('?') < 0 ? '?' : '&') + 'q=' +
        encodeURIComponent(query);
      fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (response) { return response.ok ? response.json() : { entries: [] }; })
        .then(function (data) {
          if (mine === asked) { // an older answer never replaces a newer one
            fill(data.entries || []);
          }
        })
        .catch(function () { fill([]); }); // offline: the input still takes a typed key
    }

    input.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(ask, WAIT_MS);
    });
  }

  function init() {
    var index = 0;
    document.querySelectorAll('form[data-register-lookup]').forEach(function (form) {
      form.querySelectorAll('input[data-register]').forEach(function (input) {
        attach(form, input, index++);
      });
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
}());
